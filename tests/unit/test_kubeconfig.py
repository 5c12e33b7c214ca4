"""`ozy kubeconfig`'s document and where it points kubectl (cli/kubeconfig_command.py)."""

from __future__ import annotations

import pytest

from ozymandias.cli.kubeconfig_command import is_loopback, kube_server_url, kubeconfig


@pytest.mark.parametrize(
    ("api", "server"),
    [
        # A node without a certificate serves it on loopback, over its own certificate.
        ("http://127.0.0.1:7070", "https://127.0.0.1:6443"),
        ("http://10.0.0.11:7070", "https://127.0.0.1:6443"),
        # With one, on the API's host.
        ("https://10.0.0.11:7070", "https://10.0.0.11:6443"),
        ("https://n1.example.com:7070", "https://n1.example.com:6443"),
        ("https://[fd00::1]:7070", "https://[fd00::1]:6443"),
    ],
)
def test_the_server_is_the_apis_node_on_the_kube_port(api: str, server: str) -> None:
    assert kube_server_url(api, 6443) == server


def test_the_document_names_one_cluster_user_and_context() -> None:
    document = kubeconfig("https://127.0.0.1:6443", "s3cret", "Q0E=", "Q0VSVA==", "S0VZ")
    assert document["current-context"] == "ozymandias"
    [cluster] = document["clusters"]
    assert cluster["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": "Q0E=",
    }
    [user] = document["users"]
    assert user["user"] == {
        "token": "s3cret",
        "client-certificate-data": "Q0VSVA==",
        "client-key-data": "S0VZ",
    }
    [context] = document["contexts"]
    assert context["context"] == {
        "cluster": "ozymandias",
        "user": "ozymandias",
        "namespace": "default",
    }


def test_without_a_ca_kubectl_uses_the_systems() -> None:
    document = kubeconfig("https://k8s.example.com:6443", "s3cret")
    assert "certificate-authority-data" not in document["clusters"][0]["cluster"]
    assert document["users"][0]["user"] == {"token": "s3cret"}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("10.0.0.1", False), ("a.b", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
