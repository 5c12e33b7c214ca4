"""kubectl against the Kubernetes API of a node with the cluster's certificates: on the node's
certificate, with a client certificate required (as the ozy API), and the token."""

from __future__ import annotations

from pathlib import Path

from tests.support.kubectl import kubectl_for
from tests.support.nodes import NodeFactory
from tests.support.tls import TestPki


def test_kubectl_over_the_nodes_certificate_with_a_client_certificate(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    pki = TestPki(tmp_path / "pki")
    harness = pki.certificate("harness")
    node = make_node(
        "kube-tls",
        extra_args=pki.node_flags(pki.certificate("kube-tls")),
        https=pki.context(harness),
    )
    ca = ("--ca", str(pki.ca))
    client = ("--client-cert", str(harness.cert), "--client-key", str(harness.key))
    kubectl = kubectl_for(node, tmp_path, ozy_options=(*ca, *client))
    config = kubectl.kubeconfig.read_text()
    assert f"server: https://127.0.0.1:{node.kube_port}" in config
    assert "certificate-authority-data:" in config and "client-certificate-data:" in config
    nodes = kubectl("get", "nodes").stdout
    assert "kube-tls" in nodes and "Ready" in nodes
