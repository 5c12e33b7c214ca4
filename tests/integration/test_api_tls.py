"""The API over HTTPS: real `ozy node run` daemons with certificates from `ozy tls`, and the
real CLI.

- the CLI reaches an https:// API given the cluster CA (--ca, OZY_CACERT), and says what is
  wrong without it;
- an API requiring client certificates refuses a client without one, or with one of another
  CA, at the handshake; the CLI shows its certificate with --client-cert/--client-key;
- a node refuses a non-loopback --api-host without TLS, touching nothing;
- two nodes requiring client certificates call each other over https: logs through a peer,
  and the peers' etcd-contact route.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ozymandias.api.peer import ETCD_CONTACT_PATH
from ozymandias.api.peer_link import PeerLink
from ozymandias.store import keys
from tests.support.etcd import EtcdServer
from tests.support.machine import REPO, free_port
from tests.support.nodes import NodeFactory
from tests.support.tls import TestPki
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki(tmp_path_factory.mktemp("pki"))


def ozy(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `ozy` (the suite's OZY_TOKEN is inherited); `env` adds variables."""
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def names_listed(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [item["name"] for item in json.loads(result.stdout)]


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What the CLI printed on stderr, its line wrapping undone."""
    return " ".join(result.stderr.split())


def test_the_cli_uses_the_api_over_https_trusting_the_cluster_ca(
    make_node: NodeFactory, pki: TestPki
) -> None:
    cert = pki.certificate("tls-one")
    node = make_node(
        "tls-one", extra_args=pki.node_flags(cert, require_clients=False), https=pki.context()
    )
    assert node.api.startswith("https://")
    get_nodes = ("get", "nodes", "--api", node.api, "-o", "json")
    assert names_listed(ozy("--ca", str(pki.ca), *get_nodes)) == ["tls-one"]
    assert names_listed(ozy(*get_nodes, env={"OZY_CACERT": str(pki.ca)})) == ["tls-one"]
    # The node registered its https URL: peers and `ozy get nodes` see it.
    listed = json.loads(ozy("--ca", str(pki.ca), *get_nodes).stdout)
    assert listed[0]["apiUrl"] == node.api

    untrusted = ozy(*get_nodes)  # the system's CAs do not know the cluster's
    assert untrusted.returncode == 1
    assert "does not trust" in said(untrusted) and "--ca FILE" in said(untrusted)
    plain = ozy("--ca", str(pki.ca), *get_nodes[:3], node.api.replace("https:", "http:"))
    assert plain.returncode == 1
    assert "use an https:// URL" in said(plain)
    missing = ozy("--ca", "/nonexistent/ca.pem", *get_nodes)
    assert missing.returncode == 2
    assert "--ca /nonexistent/ca.pem: no such file" in said(missing)


def test_a_client_certificate_required_and_missing_is_refused(
    make_node: NodeFactory, pki: TestPki, tmp_path: Path
) -> None:
    harness = pki.certificate("harness")
    node = make_node(
        "tls-two", extra_args=pki.node_flags(pki.certificate("tls-two")), https=pki.context(harness)
    )
    get_nodes = ("get", "nodes", "--api", node.api, "-o", "json")

    # Refused at the handshake, before any HTTP: even the open health check.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{node.api}/v1/health", verify=pki.context(), timeout=5)
    without = ozy("--ca", str(pki.ca), *get_nodes)
    assert without.returncode == 1
    assert "may require a client certificate" in said(without)
    assert "--client-cert" in said(without)

    stranger = TestPki(tmp_path / "other-ca").certificate("alice")
    foreign = ozy(
        "--ca", str(pki.ca), "--client-cert", str(stranger.cert), "--client-key",
        str(stranger.key), *get_nodes,
    )  # fmt: skip
    assert foreign.returncode == 1, foreign.stdout
    assert "may refuse this client certificate" in said(foreign)

    alice = pki.certificate("alice")
    shown = ozy(
        "--ca", str(pki.ca), "--client-cert", str(alice.cert), "--client-key", str(alice.key),
        *get_nodes,
    )  # fmt: skip
    assert names_listed(shown) == ["tls-two"]
    from_env = {
        "OZY_CACERT": str(pki.ca),
        "OZY_CLIENT_CERT": str(alice.cert),
        "OZY_CLIENT_KEY": str(alice.key),
    }
    assert names_listed(ozy(*get_nodes, env=from_env)) == ["tls-two"]
    half = ozy("--ca", str(pki.ca), "--client-cert", str(alice.cert), *get_nodes)
    assert half.returncode == 2
    assert "--client-cert and --client-key go together" in said(half)


def test_a_plain_http_api_off_loopback_is_refused_touching_nothing(
    etcd: EtcdServer, tmp_path: Path
) -> None:
    etcd.wipe()
    data_dir = tmp_path / "refused"
    started = ozy(
        "node", "run", "--name", "tls-refused", "--etcd", etcd.url, "--api-host", "0.0.0.0",
        "--api-port", str(free_port()), "--data-dir", str(data_dir),
    )  # fmt: skip
    assert started.returncode == 2, started.stderr
    assert "--api-host 0.0.0.0 is not a loopback address" in said(started)
    assert "--insecure-http" in said(started) and "--tls-cert" in said(started)
    assert not data_dir.exists()
    assert etcd.keys("/ozy/nodes/") == []


KEEPER = """
name: tls-keeper
nodeSelector: {tls: keeper}
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "echo said-over-https; exec sleep 3600"]
    memory: 16M
"""


def test_nodes_requiring_client_certificates_call_each_other_over_https(
    make_node: NodeFactory, pki: TestPki, etcd: EtcdServer
) -> None:
    harness = pki.certificate("harness")
    nodes = [
        make_node(
            name,
            labels=f"tls={role}",
            extra_args=pki.node_flags(pki.certificate(name)),
            https=pki.context(harness),
        )
        for name, role in (("tls-front", "front"), ("tls-back", "keeper"))
    ]
    front, back = nodes
    applied = front.apply(KEEPER)
    assert applied.status_code < 300, applied.text
    running = front.wait_running("tls-keeper", 1)
    assert running[0]["node"] == "tls-back"

    # The logs of an instance on tls-back, asked of tls-front: tls-front fetches them from
    # tls-back over https, showing its own certificate (tls-back requires one).
    def logs_through_front() -> str | None:
        reply = front.request("GET", "/v1/instances/tls-keeper-0/logs")
        return reply.text if reply.status_code == 200 and "said-over-https" in reply.text else None

    wait_until(logs_through_front, timeout=30, what="tls-keeper-0's logs through tls-front")
    cli_logs = ozy(
        "--ca", str(pki.ca), "--client-cert", str(harness.cert), "--client-key",
        str(harness.key), "logs", "tls-keeper-0", "--api", front.api,
    )  # fmt: skip
    assert cli_logs.returncode == 0, cli_logs.stderr
    assert "said-over-https" in cli_logs.stdout

    # The route peers ask when they lose etcd, called as a node calls it.
    secret = etcd.get_json(keys.ACL_PEER.decode())["secret"]
    link = PeerLink(pki.client(harness), secret=secret)
    for node in nodes:
        reply = asyncio.run(_get(link, f"{node.api}{ETCD_CONTACT_PATH}"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["node"] == node.name
    # A node with no certificate of the cluster's is refused by its peers.
    outsider = PeerLink(pki.client(), secret=secret)
    with pytest.raises(httpx.HTTPError):
        asyncio.run(_get(outsider, f"{back.api}{ETCD_CONTACT_PATH}"))


async def _get(link: PeerLink, url: str) -> httpx.Response:
    async with link.client(timeout=5, headers=link.credential_headers) as client:
        return await client.get(url)
