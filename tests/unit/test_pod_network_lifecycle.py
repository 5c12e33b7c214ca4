"""The pod network's start and stop (network/pod_network.py), with the host's tools faked."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from ozymandias.cluster.records import Node, Resources
from ozymandias.network import ip_routes, pod_network
from ozymandias.network.pod_network import PodNetwork
from ozymandias.runtime.models import BridgeNetwork
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.mirror import Mirror


class FakeRuntime:
    def __init__(self) -> None:
        self.made: dict[str, tuple[str, int | None]] = {}
        self.fail_removal = False

    async def ensure_network(self, name: str, subnet: str, mtu: int | None = None) -> None:
        self.made[name] = (subnet, mtu)

    async def remove_network(self, name: str) -> None:
        if self.fail_removal:
            raise RuntimeError("podman is gone")
        self.made.pop(name, None)

    async def networks(self) -> list[BridgeNetwork]:
        return [BridgeNetwork(name, "", (subnet,)) for name, (subnet, _) in self.made.items()]


class FakeFirewall:
    made: ClassVar[list[FakeFirewall]] = []

    def __init__(
        self, node_name: str, pod_subnet: str, cluster_cidr: str, **isolation: object
    ) -> None:
        self.args = (node_name, pod_subnet, cluster_cidr)
        self.started = self.stopped = False
        FakeFirewall.made.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was done to the host, in order."""
    done: list[str] = []

    async def ensure_blackhole(cidr: str) -> bool:
        done.append(f"blackhole {cidr}")
        return True

    async def remove_blackhole(cidr: str) -> None:
        done.append(f"no blackhole {cidr}")

    monkeypatch.setattr(ip_routes, "ensure_blackhole", ensure_blackhole)
    monkeypatch.setattr(ip_routes, "remove_blackhole", remove_blackhole)
    monkeypatch.setattr(pod_network, "ensure_bridge_netfilter", lambda: done.append("netfilter"))
    monkeypatch.setattr(
        pod_network, "ensure_liberal_tcp_conntrack", lambda: done.append("conntrack")
    )
    FakeFirewall.made = []
    monkeypatch.setattr(pod_network, "IptablesFirewall", FakeFirewall)
    return done


def network(tmp_path: Path, runtime: FakeRuntime, flannel: str | None) -> PodNetwork:
    flannel_env = tmp_path / "subnet.env"
    if flannel is not None:
        flannel_env.write_text(flannel)
    return PodNetwork(
        runtime,
        cast(ClusterStore, object()),  # flannel gives the subnet: etcd is not asked
        node_name="n1",
        network_name="ozy-n1",
        cluster_cidr="10.213.0.0/16",
        backend="host-gw",
        flannel_env=flannel_env,
        subnet_file=tmp_path / "pod-subnet",
    )


async def test_under_flannel_the_subnet_and_range_are_flannels(
    tmp_path: Path, host: list[str]
) -> None:
    runtime = FakeRuntime()
    pods = network(
        tmp_path,
        runtime,
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\n",
    )
    await pods.prepare_host()
    assert pods.cluster_cidr == "10.244.0.0/16"
    assert host == ["blackhole 10.244.0.0/16", "netfilter"]
    await pods.start(lease_id=7, address="10.0.0.1")
    assert pods.subnet == "10.244.3.0/24" and pods.gateway == "10.244.3.1"
    assert runtime.made == {"ozy-n1": ("10.244.3.0/24", 1450)}
    assert FakeFirewall.made[0].args == ("n1", "10.244.3.0/24", "10.244.0.0/16")
    assert FakeFirewall.made[0].started and pods.firewall is cast(Any, FakeFirewall.made[0])
    assert host[-1] == "conntrack"
    assert pods.route_backend is None  # flannel routes
    own = Node(name="n1", address="10.0.0.1", api_url="", capacity=Resources(), started_at=0)
    # No routes of ours under flannel, but the firewall still follows the peers.
    assert pods.peer_router(own, cast(Mirror[Node], object())) is not None


async def test_stop_gives_back_what_was_set_up(tmp_path: Path, host: list[str]) -> None:
    runtime = FakeRuntime()
    pods = network(tmp_path, runtime, "FLANNEL_SUBNET=10.5.1.1/24\n")
    await pods.prepare_host()
    assert pods.cluster_cidr == "10.213.0.0/16"  # no FLANNEL_NETWORK: ours stays
    await pods.start(lease_id=7, address="10.0.0.1")
    runtime.fail_removal = True
    await pods.remove_bridge()  # errors are ignored: the daemon is leaving anyway
    runtime.fail_removal = False
    await pods.remove_bridge()
    assert runtime.made == {}
    await pods.stop()
    assert FakeFirewall.made[0].stopped
    assert host[-1] == "no blackhole 10.213.0.0/16"


async def test_stop_before_start_touches_nothing(tmp_path: Path, host: list[str]) -> None:
    pods = network(tmp_path, FakeRuntime(), None)
    await pods.stop()
    assert host == []


async def test_a_blackhole_that_was_there_already_is_left(
    tmp_path: Path, host: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def already_there(cidr: str) -> bool:
        return False

    monkeypatch.setattr(ip_routes, "ensure_blackhole", already_there)
    pods = network(tmp_path, FakeRuntime(), None)
    await pods.prepare_host()
    await pods.stop()
    assert host == ["netfilter"]


def test_backends_are_listed() -> None:
    assert pod_network.NETWORK_BACKENDS == ("host-gw", "vxlan")
