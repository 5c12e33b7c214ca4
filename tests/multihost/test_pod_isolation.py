"""Pods walled off from the control plane (issue #14), across sandboxed hosts: a pod on one
host is refused, at once, the other host's API (on its address and on its gateway's) and
etcd's members, and its own host's API; it still reaches a pod on the other host through
its declared port, the other host's ingress and its node's DNS server."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from ozymandias.network.subnets import gateway_of
from tests.multihost.test_pod_network import exec_in, host_of, network_leftovers
from tests.support.host_checks import reported
from tests.support.hosts import API_PORT, EtcdCluster, Host, HostFactory
from tests.support.waiting import wait_until

JOB = "iso"
# Port 7000 declared, answering each connection with what it sees; 80 the web page.
LISTENER = "trap 'exit 0' TERM; nc -ll -p 7000 -e netstat -tn & wait"
ISOLATION_JOB = f"""\
name: {JOB}
numInstances: 2
ingress: {{port: 80}}
containers:
  web:
    image: localhost/ozy-example-web:latest
    memory: 32M
    ports: ["80:3000"]
  echo:
    image: localhost/ozy-example-tools:latest
    memory: 16M
    command: ["sh", "-c", "{LISTENER}"]
    ports: ["7000"]
"""
CONNECT_TIMEOUT = 5
REFUSED_WITHIN = 3.0


def probe(host: Host, pod: str, address: str, port: int, payload: str = "") -> tuple[str, float]:
    """What busybox nc in the pod's echo container gets from address:port (errors and exit
    status included), and how long it took."""
    script = f"printf '{payload}' | nc -w {CONNECT_TIMEOUT} {address} {port}; echo rc=$?"
    started = time.monotonic()
    out = exec_in(host, f"{pod}-echo", "sh", "-c", script)
    return out, time.monotonic() - started


def assert_refused_at_once(host: Host, pod: str, address: str, port: int) -> None:
    out, seconds = probe(host, pod, address, port)
    assert "refused" in out, (address, port, out)
    assert seconds < REFUSED_WITHIN, f"{address}:{port} took {seconds:.1f}s: {out}"


def etcd_members(etcd_cluster: EtcdCluster) -> list[tuple[str, int]]:
    """(address, client port) of every etcd member."""
    urls = [urlsplit(member.client_url) for member in etcd_cluster.members]
    return [(str(url.hostname), int(url.port or 0)) for url in urls]


def test_a_pod_cannot_reach_the_control_plane_of_any_host(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(2)
    hosts[0].apply(ISOLATION_JOB, JOB)

    def spread() -> dict[int, dict[str, str]] | None:
        found = reported(hosts[0], JOB)
        ready = {i: x for i, x in found.items() if x["state"] == "running" and x.get("podIP")}
        return ready if len(ready) == 2 else None

    instances: dict[int, dict[str, str]] = wait_until(spread, timeout=60, what="2 pods")
    # Job anti-affinity: one pod on each host.
    assert {instance["node"] for instance in instances.values()} == {"h1", "h2"}, instances
    client_index = next(i for i, x in instances.items() if x["node"] == "h1")
    server_index = next(i for i, x in instances.items() if x["node"] == "h2")
    server_ip = instances[server_index]["podIP"]
    a, b = host_of(hosts, "h1"), host_of(hosts, "h2")
    client = f"ozy-{a.name}-{JOB}-{client_index}"

    # Still reached: a pod on B by its declared port, B's ingress, the node's DNS server.
    wait_until(
        lambda: f"{server_ip}:7000" in probe(a, client, server_ip, 7000)[0],
        timeout=15,
        what="pod to pod across hosts",
    )
    request = rf"GET / HTTP/1.0\r\nHost: {JOB}.localhost\r\n\r\n"
    wait_until(
        lambda: "200" in probe(a, client, b.address, 80, request)[0].split("\n", 1)[0],
        timeout=30,
        what="B's ingress from a pod on A",
    )
    name = f"{JOB}-{server_index}.pod.cluster.local"
    lookup = exec_in(a, f"{client}-echo", "nslookup", name)
    assert server_ip in lookup, lookup

    # Refused at once: B's API (on its address, and on its gateway's, which A's pods reach
    # unmasqueraded), every etcd member, and A's own API on every address of A.
    refused = [
        (b.address, API_PORT),
        (gateway_of(b.pod_subnet), API_PORT),
        *etcd_members(etcd_cluster),
        (a.address, API_PORT),
        (gateway_of(a.pod_subnet), API_PORT),
    ]
    for address, port in refused:
        assert_refused_at_once(a, client, address, port)
    # The new chain goes with the others when a node stops.
    for host in hosts:
        host.stop_daemon()
        assert network_leftovers(host) == [], host.name
