"""API latency over HTTP and HTTPS, and what the token check costs.

Measures, in one run:

1. on two nodes of one cluster on this machine (one etcd), `api-plain`
   serving HTTP on loopback and `api-tls` serving HTTPS and requiring client
   certificates (both made with `ozy tls`'s code), after --tokens read tokens
   were created through the API, so each node's token mirror holds them:
   p50 and p99 of `GET /v1/jobs` and of `PUT /v1/jobs/NAME` (a small job,
   numInstances 0, its environment changed each time so each PUT commits a
   new version), on a kept-alive connection; and `GET /v1/jobs` on a new
   connection each time, as one `ozy` command pays it (handshake included).
   The two nodes are asked in turn, request by request, so both see the same
   machine load;
2. the token check alone, in process: the API's auth middleware
   (api/auth.py `Authentication` and `Guard`, holding as many tokens as the
   nodes) in front of an empty ASGI app, against the empty app alone, asked
   in turn; and `Guard.identify` by itself.

Goal: the token check adds at most 1 ms at p99.

Run as root on a set-up machine (`make setup`):
    .venv/bin/python bench/api.py [--requests 300] [--tokens 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from starlette.types import Message, Receive, Scope, Send  # noqa: E402
from tests.support.auth import TEST_ADMIN, TEST_ADMIN_SECRET, bearer  # noqa: E402
from tests.support.etcd import EtcdServer  # noqa: E402
from tests.support.jobs import WEB_IMAGE  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed  # noqa: E402
from tests.support.nodes import NodeProcess, remove_everything_of_node  # noqa: E402
from tests.support.tls import TestPki  # noqa: E402

from ozymandias.acl.roles import Role  # noqa: E402
from ozymandias.acl.tokens import make_token, new_secret  # noqa: E402
from ozymandias.api.auth import Authentication, Guard  # noqa: E402
from ozymandias.cluster.records import AclToken  # noqa: E402
from ozymandias.store.mirror import Mirror  # noqa: E402

IN_PROCESS_CALLS = 20_000


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def figures(name: str, seconds: list[float]) -> str:
    return (
        f"  {name:<44} p50 {statistics.median(seconds) * 1000:7.3f} ms  "
        f"p99 {percentile(seconds, 0.99) * 1000:7.3f} ms  (n={len(seconds)})"
    )


def job(name: str, version: int) -> dict[str, Any]:
    """A job that places nothing: the PUT measures parsing, planning and the etcd commit."""
    return {
        "name": name,
        "numInstances": 0,
        "containers": {
            "app": {
                "image": WEB_IMAGE,
                "memory": "16M",
                "environment": [{"name": "VERSION", "value": str(version)}],
            }
        },
    }


def over_the_network(nodes: list[NodeProcess], requests: int) -> dict[str, list[float]]:
    """Each node's GET, PUT and new-connection GET latencies, the nodes asked in turn."""
    samples: dict[str, list[float]] = {}

    def timed(what: str, node: NodeProcess, send: Callable[[], httpx.Response]) -> None:
        sent = time.perf_counter()
        reply = send()
        samples.setdefault(f"{node.name}: {what}", []).append(time.perf_counter() - sent)
        assert reply.status_code in (200, 201), reply.text

    # httpx builds an SSL context for every client, even for http:// (loading the system's
    # CAs: about 15 ms); a ready one keeps that out of the plain node's figures.
    unused = ssl.create_default_context()
    clients = {
        node.name: httpx.Client(base_url=node.api, timeout=60, headers=bearer(), verify=node.verify)
        for node in nodes
    }
    try:
        for node in nodes:  # connect, and make each node's job
            created = clients[node.name].put(
                f"/v1/jobs/bench-{node.name}", json=job(f"bench-{node.name}", 0)
            )
            assert created.status_code in (200, 201), created.text
        for round_ in range(1, requests + 1):
            # Who goes first changes every round: neither is always the warmer.
            for node in nodes if round_ % 2 else nodes[::-1]:
                client, name = clients[node.name], f"bench-{node.name}"
                spec = job(name, round_)
                timed("GET /v1/jobs", node, partial(client.get, "/v1/jobs"))
                timed("PUT /v1/jobs/NAME", node, partial(client.put, f"/v1/jobs/{name}", json=spec))
                one_off = partial(
                    httpx.get, f"{node.api}/v1/jobs", headers=bearer(), verify=node.https or unused
                )
                timed("GET /v1/jobs, new connection", node, one_off)
    finally:
        for client in clients.values():
            client.close()
    return samples


class _Tokens:
    """What `Guard` reads of its tokens mirror: the tokens and the mirror's revision."""

    def __init__(self, tokens: list[AclToken]) -> None:
        self.items = {token.accessor: token for token in tokens}
        self.revision = 1


async def _empty_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def in_process(token_count: int) -> dict[str, list[float]]:
    """The auth middleware in front of an empty app, against the empty app alone, in turn."""
    tokens = [make_token(f"t{i}", Role.READ, new_secret()) for i in range(token_count)]
    guard = Guard(cast(Mirror[AclToken], _Tokens([TEST_ADMIN, *tokens])))
    guarded = Authentication(_empty_app, guard)
    headers = [(b"authorization", f"Bearer {TEST_ADMIN_SECRET}".encode())]
    scope: Scope = {"type": "http", "method": "GET", "path": "/v1/jobs", "headers": headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    samples: dict[str, list[float]] = {"bare": [], "guarded": [], "identify": []}
    guard.identify(TEST_ADMIN_SECRET)  # builds the index, as the first request does
    for _ in range(IN_PROCESS_CALLS):
        for name, app in (("bare", _empty_app), ("guarded", guarded)):
            sent = time.perf_counter()
            await app(dict(scope), receive, send)
            samples[name].append(time.perf_counter() - sent)
        sent = time.perf_counter()
        assert guard.identify(TEST_ADMIN_SECRET) is not None
        samples["identify"].append(time.perf_counter() - sent)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind per node")
    parser.add_argument("--tokens", type=int, default=1000, help="tokens the cluster holds")
    args = parser.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR):
        directory = Path(scratch)
        (directory / "etcd").mkdir()
        etcd = EtcdServer(directory / "etcd" / "data")
        pki = TestPki(directory / "pki")
        common: dict[str, Any] = dict(memory="1G", log_level="INFO")
        plain = NodeProcess("api-plain", "", directory / "nodes", "10.213.247.0/24", **common)
        secure = NodeProcess(
            "api-tls",
            "",
            directory / "nodes",
            "10.213.248.0/24",
            extra_args=pki.node_flags(pki.certificate("api-tls")),
            https=pki.context(pki.certificate("bench")),
            **common,
        )
        nodes = [plain, secure]
        try:
            etcd.start()
            for node in nodes:
                node.etcd_url = etcd.url
                node.start()
            for i in range(args.tokens):
                made = plain.request(
                    "POST", "/v1/acl/tokens", json={"name": f"t{i}", "role": "read"}
                )
                assert made.status_code == 201, made.text
            samples = over_the_network(nodes, args.requests)
            lines.append(
                f"Over the network, two nodes asked in turn ({args.tokens + 1} tokens in the "
                "cluster; api-tls: HTTPS, client certificates required; ECDSA P-256):"
            )
            lines += [figures(name, seconds) for name, seconds in samples.items()]
        finally:
            for node in nodes:
                node.stop()
                remove_everything_of_node(node.name)
            etcd.stop()
    checks = asyncio.run(in_process(args.tokens))
    lines.append(f"The token check in process ({args.tokens + 1} tokens, asked in turn):")
    lines.append(figures("empty ASGI app", checks["bare"]))
    lines.append(figures("auth middleware + empty ASGI app", checks["guarded"]))
    lines.append(figures("Guard.identify alone", checks["identify"]))
    added = percentile(checks["guarded"], 0.99) - percentile(checks["bare"], 0.99)
    lines.append(f"  the token check adds {added * 1000:.3f} ms at p99 (goal: at most 1 ms)")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
