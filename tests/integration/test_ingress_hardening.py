"""The ingress, hardened: no forged X-Forwarded-For, an unprivileged HAProxy worker, TCP
ingress ports only in the node's range, and a port another process holds left out alone."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.integration.test_ingress import HEADERS_JOB, get, haproxy_pids
from tests.support.machine import TCP_INGRESS_PORTS, free_tcp_ingress_port, run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

RANGE = TCP_INGRESS_PORTS

TCP_JOB = """
name: {name}
ingress:
  tcp: [{tcp}]
containers:
  db:
    image: localhost/ozy-example-db:latest
    memory: 32M
    ports: ["5432"]
    healthcheck: {{type: tcp, port: 5432, interval: 1, timeout: 1}}
"""


def tcp_job(name: str, *ports: int) -> str:
    return TCP_JOB.format(
        name=name, tcp=", ".join(f"{{port: {port}, targetPort: 5432}}" for port in ports)
    )


@contextlib.contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    """Another process's listener, as far as the node can tell: ours, on loopback."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        yield squatter


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])  # the real uid; effective and saved follow it
    raise AssertionError(f"no Uid line for {pid}")


def parent_of(pid: int) -> int:
    return int(run("ps", "-o", "ppid=", "-p", str(pid)).stdout)


def master_and_worker(node: NodeProcess) -> tuple[int, int] | None:
    """The node's HAProxy master (its child) and that master's one worker, once both run."""
    assert node.process is not None
    pids = haproxy_pids(node)
    masters = [pid for pid in pids if parent_of(pid) == node.process.pid]
    if len(masters) != 1:
        return None
    workers = [pid for pid in pids if parent_of(pid) == masters[0]]
    return (masters[0], workers[0]) if len(workers) == 1 else None


def tcp_echoes(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(b"hello ingress\n")
            return connection.recv(100) == b"hello ingress\n"
    except OSError:
        return False


def ingress(node: NodeProcess) -> dict[str, Any]:
    response = node.request("GET", "/v1/ingress")
    response.raise_for_status()
    return dict(response.json())


def test_a_forged_forwarded_for_from_an_untrusted_client_does_not_reach_the_backend(
    make_node: NodeFactory,
) -> None:
    node = make_node("ingress-xff")
    assert node.apply(HEADERS_JOB).status_code == 201
    wait_until(lambda: get(node, "headers.localhost").status_code == 200, what="headers routed")

    # No trusted proxy by default: loopback, like anyone, may not speak for another client.
    forged = httpx.get(
        f"http://127.0.0.1:{node.ingress_port}/",
        headers={"host": "headers.localhost", "x-forwarded-for": "203.0.113.9, 198.51.100.1"},
        timeout=10,
    )
    echoed = forged.text.lower().splitlines()
    assert [line for line in echoed if line.startswith("x-forwarded-for")] == [
        "x-forwarded-for: 127.0.0.1"
    ]
    assert "203.0.113.9" not in forged.text and "198.51.100.1" not in forged.text


def test_the_haproxy_worker_runs_unprivileged_across_a_reload_and_dies_with_the_node(
    make_node: NodeFactory,
) -> None:
    node = make_node("ingress-uid")
    master, worker = wait_until(lambda: master_and_worker(node), what="HAProxy's master and worker")
    assert uid_of(master) == 0  # it binds the ports (80 by default) and dies with the daemon
    assert uid_of(worker) != 0

    # A new route is a new shape: a reload, whose new worker drops too and serves it.
    assert node.apply(HEADERS_JOB).status_code == 201
    wait_until(lambda: get(node, "headers.localhost").status_code == 200, what="headers routed")

    def new_generation() -> tuple[int, int] | None:
        found = master_and_worker(node)
        return found if found is not None and found[0] != master else None

    _, new_worker = wait_until(new_generation, what="a new HAProxy generation")
    assert uid_of(new_worker) != 0
    wait_until(lambda: master not in haproxy_pids(node), what="the old generation gone")

    # The worker's change of user must not let HAProxy outlive a killed daemon.
    node.kill9()
    wait_until(lambda: not haproxy_pids(node), timeout=10, what="HAProxy to die with the node")


def test_a_tcp_ingress_port_outside_the_range_is_refused(make_node: NodeFactory) -> None:
    node = make_node("ingress-range")
    refused = node.apply(tcp_job("sshd", 22))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("#ingress-port-out-of-range")
    assert "ingress.tcp.0.port" in refused.text
    assert "22 is outside the TCP ingress port range 30000-32767" in refused.text
    assert node.request("GET", "/v1/jobs/sshd").status_code == 404
    assert ingress(node)["tcp"] == []


def test_a_taken_tcp_port_is_a_conflict_and_the_other_routes_still_work(
    make_node: NodeFactory,
) -> None:
    node = make_node("ingress-taken")
    taken, free = free_tcp_ingress_port(), free_tcp_ingress_port()
    while free == taken:
        free = free_tcp_ingress_port()
    conflict = f"TCP port {taken} of job echo is in use by another process on this node"

    with listening(taken):
        assert node.apply(tcp_job("echo", taken, free)).status_code == 201
        assert node.apply(HEADERS_JOB).status_code == 201
        wait_until(lambda: conflict in ingress(node)["conflicts"], what="the taken port reported")
        assert [route["port"] for route in ingress(node)["tcp"]] == [free]
        # The taken port holds back neither the job's other port nor another job's HTTP route.
        wait_until(lambda: tcp_echoes(free), what="the free TCP port served")
        wait_until(lambda: get(node, "headers.localhost").status_code == 200, what="HTTP routed")
        listed = run(".venv/bin/ozy", "get", "ingress", "--api", node.api)
        assert f"conflict: {conflict}" in listed.stderr.replace("\n", " ")

    # Freed, the port is looked at again and served, with no change to the cluster.
    wait_until(lambda: conflict not in ingress(node)["conflicts"], timeout=30, what="re-probed")
    deadline = time.monotonic() + 10
    while not tcp_echoes(taken):
        assert time.monotonic() < deadline, f"port {taken} not served once freed"
        time.sleep(0.2)
