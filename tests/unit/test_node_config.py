"""What a node is told: the ingress may never open the control plane's ports to pods."""

from __future__ import annotations

import pytest

from ozymandias.node_config import NodeConfig


def test_the_control_ports_are_the_apis_and_etcds() -> None:
    config = NodeConfig(name="n1", etcd="http://10.0.0.1:2379,http://10.0.0.2:2479", api_port=7070)
    assert config.etcd_hosts == ["10.0.0.1", "10.0.0.2"]
    # The Kubernetes API's port (6443 by default) is the node's too; 0 serves none.
    assert config.control_ports == [2379, 2380, 2479, 2480, 6443, 7070]
    config = NodeConfig(name="n1", etcd="http://10.0.0.1:2379", kube_port=0)
    assert config.control_ports == [2379, 2380, 7070]


@pytest.mark.parametrize(
    ("ports", "taken"),
    [
        (dict(ingress_tcp_ports=(2000, 9000)), 2379),
        (dict(ingress_port=7070), 7070),
        (dict(ingress_tcp_ports=(7070, 7070)), 7070),
        (dict(ingress_port=6443), 6443),
    ],
)
def test_ingress_ports_that_take_in_a_control_port_are_refused(
    ports: dict[str, object], taken: int
) -> None:
    with pytest.raises(ValueError, match=f"must not include port {taken}"):
        NodeConfig(name="n1", **ports)  # type: ignore[arg-type]
