"""Pods walled off from the control plane (issue #14), on one node: from inside a pod, the
node's API and etcd's port are refused at once, while DNS through the gateway, the ingress
and another pod's declared port still answer.

The node's API listens on every address here (`--api-host 0.0.0.0`), and stand-ins for host
services listen on the gateway address (etcd itself listens on loopback only, where no pod
reaches): without the firewall, every one of them would answer the pod.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator

from ozymandias.network.subnets import gateway_of
from tests.support.etcd import EtcdServer
from tests.support.machine import free_port, run
from tests.support.nodes import NodeFactory
from tests.support.podman import app_container
from tests.support.waiting import wait_until

JOB = "iso"
# Port 7000 declared, answering each connection with what it sees (as in the multihost tests).
LISTENER = "trap 'exit 0' TERM; nc -ll -p 7000 -e netstat -tn & wait"
ISOLATION_JOB = f"""
name: {JOB}
numInstances: 2
containers:
  echo:
    image: localhost/ozy-example-tools:latest
    memory: 16M
    command: ["sh", "-c", "{LISTENER}"]
    ports: ["7000"]
    healthcheck: {{type: tcp, port: 7000, interval: 1, timeout: 1, healthy_threshold: 1}}
"""
# A TCP connect that nothing answers takes this long; a refused one returns at once.
CONNECT_TIMEOUT = 5
REFUSED_WITHIN = 3.0


def free_port_in_range(low: int = 30000, high: int = 32767) -> int:
    """A port of the default TCP ingress range that nothing holds now (`free_port` gives
    ephemeral ones, above the range)."""
    for _ in range(100):
        port = random.randint(low, high)
        with socket.socket() as attempt:
            try:
                attempt.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def probe(container: str, address: str, port: int, payload: str = "") -> tuple[str, float]:
    """What busybox nc in `container` gets from address:port (errors and exit status
    included), and how long it took."""
    script = f"printf '{payload}' | nc -w {CONNECT_TIMEOUT} {address} {port}; echo rc=$?"
    started = time.monotonic()
    result = run("podman", "exec", container, "sh", "-c", script, check=False, timeout=30)
    return result.stdout + result.stderr, time.monotonic() - started


def assert_refused_at_once(container: str, address: str, port: int) -> None:
    out, seconds = probe(container, address, port)
    assert "refused" in out, (address, port, out)
    assert seconds < REFUSED_WITHIN, f"{address}:{port} took {seconds:.1f}s: {out}"


@contextlib.contextmanager
def host_services(address: str, *ports: int) -> Iterator[None]:
    """Listeners on the host at address:port that accept each connection and close it."""
    listeners = []
    try:
        for port in ports:
            listener = socket.socket()
            listeners.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen()
            threading.Thread(target=_accept_and_close, args=(listener,), daemon=True).start()
        yield
    finally:
        for listener in listeners:
            # Ends its thread's accept().
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()


def _accept_and_close(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while True:
            connection, _ = listener.accept()
            connection.close()


def test_a_pod_reaches_dns_ingress_and_pods_but_not_the_control_plane(
    make_node: NodeFactory, etcd: EtcdServer
) -> None:
    # Plain HTTP is enough: what is tested is whether a pod reaches the port at all.
    node = make_node("iso-a", extra_args=("--api-host", "0.0.0.0", "--insecure-http"))
    assert node.apply(ISOLATION_JOB).status_code == 201
    instances = {item["index"]: item for item in node.wait_running(JOB, 2)}
    client = app_container(JOB, 0, "echo")
    gateway = gateway_of(node.pod_subnet)
    # The node's tcp checks reach the pods: their answers come back in through the firewall.
    wait_until(
        lambda: {item["health"] for item in node.instances(JOB)} == {"healthy"},
        timeout=30,
        what="both instances healthy",
    )

    # What the node serves the pods: DNS on the gateway (udp and tcp), the ingress.
    name = f"{JOB}-1.pod.cluster.local"
    wait_until(
        lambda: instances[1]["podIP"] in probe_lookup(client, name),
        timeout=15,
        what=f"{name} through the gateway's DNS server",
    )
    out, _ = probe(client, gateway, 53)
    assert "rc=0" in out, out
    page, _ = probe(client, gateway, node.ingress_port, r"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    assert "HTTP/1." in page, page

    # Another pod's declared port.
    answer, _ = probe(client, instances[1]["podIP"], 7000)
    assert f"{instances[1]['podIP']}:7000" in answer, answer

    # The control plane, and any other port of the host, refused at once: the API (on every
    # address), etcd's port and another one (stand-ins on the gateway).
    other_port, ingress_range_port = free_port(), free_port_in_range()
    with host_services(gateway, etcd.client_port, other_port, ingress_range_port):
        for port in (node.api_port, etcd.client_port, other_port):
            assert_refused_at_once(client, gateway, port)
        # The TCP ingress range stays open: the refusals are the firewall's, not a dead path.
        out, _ = probe(client, gateway, ingress_range_port)
        assert "rc=0" in out, out


def probe_lookup(container: str, name: str) -> str:
    """busybox nslookup through the pod's resolver: its node's DNS server on the gateway."""
    result = run("podman", "exec", container, "nslookup", name, check=False, timeout=30)
    return result.stdout + result.stderr
