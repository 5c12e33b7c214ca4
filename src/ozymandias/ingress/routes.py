"""Which requests go where: the ingress routes, computed from jobs and instance statuses. Pure.

Every job with a tcp cluster port answers HTTP at `<job>.localhost` (which
browsers and curl resolve to 127.0.0.1 without any DNS setup) and at the
hosts its spec's `ingress.hosts` lists, on its `ingress.port` (default: its
first tcp port). Its `ingress.tcp` entries open raw TCP ports. Backends are
the pod IPs of healthy, running instances, with the cluster port: the pod
network reaches them from any node, so every node's ingress serves every job.

A host or TCP port that two jobs claim goes to the job first by name (an
implicit `<job>.localhost` before any listed host), and the loser is
reported in `conflicts`, so the route never flips between jobs. So is a TCP
port outside the node's TCP ingress port range (the API refuses such a job;
this covers one already in etcd), and, on one node only, a TCP port another
process holds there (`leave_out_taken`): the other routes are served anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus, instance_name
from ozymandias.ingress.port_range import PortRange, describe, in_range
from ozymandias.spec.models import JobSpec

LOCAL_DOMAIN = "localhost"


@dataclass(frozen=True)
class Backend:
    """One healthy instance, as the proxy reaches it: pod IP and cluster port."""

    instance: str
    address: str
    port: int


@dataclass(frozen=True)
class HttpRoute:
    job: str
    hosts: tuple[str, ...]
    port: int  # the job's cluster port that receives the requests
    backends: tuple[Backend, ...]  # in instance index order
    # The job's instance count: its pool gets slots for that many from the start, so
    # instances turning healthy fill free slots by runtime commands, never a reload.
    instances: int = 0


@dataclass(frozen=True)
class TcpRoute:
    port: int  # listened on by every node
    job: str
    target_port: int  # the job's cluster port
    backends: tuple[Backend, ...]
    instances: int = 0  # as HttpRoute's


@dataclass(frozen=True)
class Routes:
    http: tuple[HttpRoute, ...] = ()
    tcp: tuple[TcpRoute, ...] = ()
    conflicts: tuple[str, ...] = ()


def local_host(job: str) -> str:
    return f"{job}.{LOCAL_DOMAIN}"


def healthy_addresses(statuses: Iterable[InstanceStatus]) -> dict[str, list[tuple[str, str]]]:
    """job -> [(instance name, pod IP)] of its instances that may receive traffic, by index."""
    usable = sorted(
        (status for status in statuses if _receives_traffic(status)),
        key=lambda status: (status.job, status.index),
    )
    healthy: dict[str, list[tuple[str, str]]] = {}
    for status in usable:
        healthy.setdefault(status.job, []).append(
            (instance_name(status.job, status.index), status.pod_ip)
        )
    return healthy


def _receives_traffic(status: InstanceStatus) -> bool:
    return (
        status.state is InstanceState.RUNNING
        and status.health is Health.HEALTHY
        and bool(status.pod_ip)
    )


def compute_routes(
    jobs: Iterable[JobSpec],
    statuses: Iterable[InstanceStatus],
    reserved_ports: Collection[int] = (),
    tcp_port_range: PortRange | None = None,
) -> Routes:
    """The routes for `jobs`; `reserved_ports` (the HTTP listener) can't be TCP ingress ports,
    nor can ports outside `tcp_port_range` (None: any port)."""
    specs = sorted(jobs, key=lambda spec: spec.name)
    healthy = healthy_addresses(statuses)
    conflicts: list[str] = []

    def backends(spec: JobSpec, port: int) -> tuple[Backend, ...]:
        return tuple(Backend(name, ip, port) for name, ip in healthy.get(spec.name, []))

    host_owner: dict[str, str] = {}
    for spec in specs:
        if spec.http_ingress_port is not None:
            host_owner[local_host(spec.name)] = spec.name
    for spec in specs:
        if spec.http_ingress_port is None or spec.ingress is None:
            continue
        for host in spec.ingress.hosts:
            owner = host_owner.setdefault(host, spec.name)
            if owner != spec.name:
                conflicts.append(f"host {host} of job {spec.name} is already routed to {owner}")

    http: list[HttpRoute] = []
    tcp: dict[int, TcpRoute] = {}
    for spec in specs:
        port = spec.http_ingress_port
        if port is not None:
            hosts = tuple(sorted(host for host, owner in host_owner.items() if owner == spec.name))
            http.append(
                HttpRoute(spec.name, hosts, port, backends(spec, port), spec.num_instances)
            )
        for entry in spec.ingress.tcp if spec.ingress is not None else []:
            if tcp_port_range is not None and not in_range(entry.port, tcp_port_range):
                conflicts.append(
                    f"TCP port {entry.port} of job {spec.name} is outside the TCP ingress"
                    f" port range {describe(tcp_port_range)}"
                )
            elif entry.port in reserved_ports:
                conflicts.append(
                    f"TCP port {entry.port} of job {spec.name} is the HTTP ingress port"
                )
            elif entry.port in tcp:
                conflicts.append(
                    f"TCP port {entry.port} of job {spec.name} is already routed to "
                    f"{tcp[entry.port].job}"
                )
            else:
                tcp[entry.port] = TcpRoute(
                    entry.port,
                    spec.name,
                    entry.target_port,
                    backends(spec, entry.target_port),
                    spec.num_instances,
                )
    return Routes(
        http=tuple(http),
        tcp=tuple(tcp[port] for port in sorted(tcp)),
        conflicts=tuple(conflicts),
    )


def conflicts_added(spec: JobSpec, others: Iterable[JobSpec]) -> list[str]:
    """The ingress conflicts that submitting `spec` brings among `others` (the other jobs):
    a host or TCP port another job has, which one of the two then loses."""
    rest = [other for other in others if other.name != spec.name]
    before = set(compute_routes(rest, ()).conflicts)
    return [c for c in compute_routes([*rest, spec], ()).conflicts if c not in before]


def ports_to_probe(routes: Routes, held: Collection[int]) -> list[int]:
    """The TCP route ports to check for another process: all but those HAProxy holds itself."""
    return [route.port for route in routes.tcp if route.port not in held]


def leave_out_taken(routes: Routes, taken: Collection[int]) -> Routes:
    """`routes` without the TCP ports another process holds on this node, each reported.

    HAProxy would fail to bind them, and one failed bind fails the whole
    reload, so every other route's change would wait on it.
    """
    if not taken:
        return routes
    return Routes(
        http=routes.http,
        tcp=tuple(route for route in routes.tcp if route.port not in taken),
        conflicts=routes.conflicts
        + tuple(
            f"TCP port {route.port} of job {route.job} is in use by another process on this node"
            for route in routes.tcp
            if route.port in taken
        ),
    )
