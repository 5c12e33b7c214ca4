"""The cluster pod network on sandboxed hosts: subnets, routes, port mapping and the firewall.

Each pod of the test job runs the example web server (port "80:3000") and a
busybox listener on 7000 (declared) and 7001 (not declared) that answers
every connection with `netstat -tn`, i.e. with the address it sees the
client connect from. Pods probe each other with busybox nc.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ozymandias.network.ip_routes import vtep_address
from ozymandias.network.subnet_lease import SubnetLeaser
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from tests.support.host_checks import reported
from tests.support.hosts import EtcdCluster, Host, HostFactory, ip
from tests.support.jobs import pinned_to
from tests.support.machine import CLUSTER_CIDR
from tests.support.waiting import wait_until

JOB = "net"
TTL = 5
LISTENERS = (
    "trap 'exit 0' TERM; nc -ll -p 7000 -e netstat -tn & nc -ll -p 7001 -e netstat -tn & wait"
)


def net_job(count: int, constraint: str = "") -> str:
    return f"""\
name: {JOB}
numInstances: {count}
{constraint}containers:
  web:
    image: localhost/ozy-example-web:latest
    memory: 32M
    ports: ["80:3000"]
  echo:
    image: localhost/ozy-example-tools:latest
    memory: 16M
    command: ["sh", "-c", "{LISTENERS}"]
    ports: ["7000"]
"""


def pods(api_host: Host, count: int) -> dict[int, dict[str, Any]]:
    """index -> instance (node, podIP), once all `count` run."""

    def running() -> dict[int, dict[str, Any]] | None:
        found = reported(api_host, JOB)
        ready = {i: x for i, x in found.items() if x["state"] == "running" and x.get("podIP")}
        return ready if len(ready) == count else None

    try:
        result: dict[int, dict[str, Any]] = wait_until(running, timeout=60, what=f"{count} pods")
    except AssertionError as error:
        raise AssertionError(f"{error}; instances: {reported(api_host, JOB)}") from None
    return result


def host_of(hosts: list[Host], name: str) -> Host:
    return next(host for host in hosts if host.name == name)


def connect(host: Host, pod: str, address: str, port: int, payload: str = "") -> str:
    """What a busybox nc in the pod's echo container gets from address:port (errors included)."""
    script = f"printf '{payload}' | nc -w 3 {address} {port}"
    return exec_in(host, f"{pod}-echo", "sh", "-c", script)


def exec_in(host: Host, container: str, *command: str) -> str:
    result = subprocess.run(
        host.in_sandbox("podman", "exec", container, *command),
        capture_output=True,
        text=True,
        env={**os.environ, **host.podman_env},
        timeout=20,
    )
    return result.stdout + result.stderr


def from_node(host: Host, address: str, port: int) -> str:
    """Connect from the host's own network namespace (not a pod): 'open' or the error."""
    probe = (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(('{address}', {port}), timeout=3).close(); print('open')\n"
        "except OSError as e:\n"
        "    print(e)\n"
    )
    return subprocess.run(
        host.in_sandbox(sys.executable, "-c", probe), capture_output=True, text=True, timeout=20
    ).stdout.strip()


def pod_name(host: Host, index: int) -> str:
    return f"ozy-{host.name}-{JOB}-{index}"


def peer_routes(host: Host) -> dict[str, str]:
    """The host's routes to other pod subnets: subnet -> via."""
    out = ip("-n", host.netns, "-j", "route", "show", "proto", "213").stdout
    return {route["dst"]: route["gateway"] for route in json.loads(out or "[]")}


def node_subnets(etcd: EtcdCluster) -> dict[str, str]:
    return {
        key.rsplit("/", 1)[1]: etcd.get_json(key)["pod_subnet"] for key in etcd.keys("/ozy/nodes/")
    }


def network_leftovers(host: Host) -> list[str]:
    """Rules, routes and devices of the node left in the host's namespace."""
    in_ns = ["ip", "netns", "exec", host.netns]
    rules = "".join(
        subprocess.run(
            [*in_ns, "iptables", "-w", *table, "-S"], capture_output=True, text=True
        ).stdout
        for table in ([], ["-t", "nat"])
    )
    found = [line for line in rules.splitlines() if "OZY-" in line]
    found += [f"route {subnet}" for subnet in peer_routes(host)]
    links = ip("-n", host.netns, "-o", "link", "show").stdout
    names = [line.split(":")[1].strip() for line in links.splitlines()]
    found += [name for name in names if name.startswith(("ozy.", "podman"))]
    return found


def test_pods_reach_pods_on_other_hosts_through_mapped_ports_only(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(2, lease_subnet=True)
    subnets = node_subnets(etcd_cluster)
    assert len(set(subnets.values())) == 2, subnets
    hosts[0].apply(net_job(3), JOB)
    instances = pods(hosts[0], 3)
    by_host: dict[str, list[int]] = {}
    for index, instance in sorted(instances.items()):
        by_host.setdefault(instance["node"], []).append(index)
    # Job anti-affinity: 2 on one host, 1 on the other.
    [(double_name, pair), (single_name, [lone])] = sorted(
        by_host.items(), key=lambda item: -len(item[1])
    )
    double, single = host_of(hosts, double_name), host_of(hosts, single_name)
    client, neighbour, remote = pair[0], pair[1], lone
    client_pod, client_ip = pod_name(double, client), instances[client]["podIP"]

    # Across hosts: reachable by IP, and the server sees the client's own pod IP.
    remote_ip = instances[remote]["podIP"]
    answer = wait_until(
        lambda: (
            (out := connect(double, client_pod, remote_ip, 7000))
            and f"{remote_ip}:7000" in out
            and out
        ),
        timeout=15,
        what="pod to pod across hosts",
    )
    assert f"{client_ip}:" in answer.split(f"{remote_ip}:7000", 1)[1].split("\n")[0], answer

    for target, where in ((remote_ip, "other host"), (instances[neighbour]["podIP"], "same host")):
        page = connect(double, client_pod, target, 80, r"GET / HTTP/1.0\r\n\r\n")
        assert "200" in page.splitlines()[0], (where, page)
        assert "refused" in connect(double, client_pod, target, 3000), where
        assert "refused" in connect(double, client_pod, target, 7001), where

    # By name: the pod's DNS server (its node's) answers for a pod on the other host.
    remote_name = f"{JOB}-{remote}.pod.cluster.local"
    wait_until(
        lambda: "200" in connect(double, client_pod, remote_name, 80, r"GET / HTTP/1.0\r\n\r\n"),
        timeout=15,
        what=f"{remote_name} reached from the other host",
    )
    lookup = exec_in(double, f"{client_pod}-echo", "nslookup", remote_name)
    assert remote_ip in lookup, lookup

    # Inside a pod, over localhost, nothing is filtered or mapped.
    remote_pod = pod_name(single, remote)
    assert "127.0.0.1:7001" in connect(single, remote_pod, "127.0.0.1", 7001)
    assert "200" in connect(single, remote_pod, "127.0.0.1", 3000, r"GET / HTTP/1.0\r\n\r\n")

    # From the nodes themselves: the cluster port is mapped, the container port refused
    # from the other host (this node's own traffic, e.g. healthchecks, is not filtered).
    assert from_node(single, remote_ip, 80) == "open"
    assert from_node(double, remote_ip, 80) == "open"
    assert "refused" in from_node(double, remote_ip, 3000)

    for host in hosts:
        host.stop_daemon()
        assert network_leftovers(host) == [], host.name


def test_routes_follow_nodes_through_restart_and_death(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3, lease_subnet=True)
    # Three daemons registered at the same moment: three different subnets.
    subnets = node_subnets(etcd_cluster)
    assert sorted(subnets) == ["h1", "h2", "h3"] and len(set(subnets.values())) == 3, subnets

    def expected_routes(host: Host, peers: list[Host]) -> dict[str, str]:
        return {subnets[peer.name]: peer.address for peer in peers if peer is not host}

    for host in hosts:
        wait_until(
            lambda host=host: peer_routes(host) == expected_routes(host, hosts),  # type: ignore[misc]
            timeout=10,
            what=f"{host.name}'s routes",
        )
    hosts[0].apply(net_job(1, pinned_to("h2") + "\n"), JOB)
    pod_ip = pods(hosts[0], 1)[0]["podIP"]
    assert from_node(hosts[0], pod_ip, 80) == "open"

    restarted = hosts[1]
    restarted.kill_daemon()
    restarted.start_daemon()
    wait_until(
        lambda: node_subnets(etcd_cluster).get(restarted.name) == subnets[restarted.name],
        timeout=10,
        what=f"{restarted.name} registered again with its subnet",
    )
    assert peer_routes(restarted) == expected_routes(restarted, hosts)
    assert pods(hosts[0], 1)[0]["podIP"] == pod_ip
    assert from_node(hosts[0], pod_ip, 80) == "open"
    assert "refused" in from_node(hosts[0], pod_ip, 3000)

    dead = hosts[2]
    dead.kill()
    for host in hosts[:2]:
        wait_until(
            lambda host=host: peer_routes(host) == expected_routes(host, hosts[:2]),  # type: ignore[misc]
            timeout=3 * TTL,
            what=f"{host.name} to drop the dead node's route",
        )


def test_vxlan_backend_carries_pod_traffic_between_hosts(make_hosts: HostFactory) -> None:
    hosts = make_hosts(2, lease_subnet=True, network_backend="vxlan")
    hosts[0].apply(net_job(2), JOB)
    instances = pods(hosts[0], 2)
    [first, second] = [instances[0], instances[1]]
    assert first["node"] != second["node"]
    client_host = host_of(hosts, first["node"])
    answer = wait_until(
        lambda: (
            (out := connect(client_host, pod_name(client_host, 0), second["podIP"], 7000))
            and f"{second['podIP']}:7000" in out
            and out
        ),
        timeout=15,
        what="pod to pod over vxlan",
    )
    assert f"{first['podIP']}:" in answer
    # Through the tunnel: the next hop is the peer's endpoint on ozy.vxlan, not its host.
    server_host = host_of(hosts, second["node"])
    server_ip = ipaddress.ip_address(second["podIP"])
    server_subnet = next(
        s for s in peer_routes(client_host) if server_ip in ipaddress.ip_network(s)
    )
    assert peer_routes(client_host)[server_subnet] == vtep_address(server_subnet)
    assert peer_routes(server_host) and server_host.address not in peer_routes(server_host).values()
    assert "refused" in connect(client_host, pod_name(client_host, 0), second["podIP"], 3000)
    # The node itself (a healthcheck, the ingress) reaches the remote pod: there through the
    # tunnel, from its host address, and back over the hosts' own network.
    assert from_node(client_host, second["podIP"], 80) == "open"
    for host in hosts:
        host.stop_daemon()
        assert network_leftovers(host) == [], host.name


def test_nodes_leasing_at_once_get_different_subnets(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    etcd_cluster.start()
    etcd_cluster.wipe()

    async def race(count: int) -> list[str]:
        etcd = Etcd(etcd_cluster.endpoints)
        try:
            store = ClusterStore(etcd)
            lease = await etcd.grant_lease(30)
            leasers = [
                SubnetLeaser(store, f"racer{i}", CLUSTER_CIDR, tmp_path / f"racer{i}")
                for i in range(count)
            ]
            subnets = await asyncio.gather(*(leaser.lease(lease, {}) for leaser in leasers))
            await etcd.revoke_lease(lease)
            return list(subnets)
        finally:
            await etcd.close()

    subnets = asyncio.run(race(12))
    assert len(set(subnets)) == 12, subnets
    assert etcd_cluster.keys("/ozy/subnets/") == []  # gone with the lease
