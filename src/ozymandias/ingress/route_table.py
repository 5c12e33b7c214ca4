"""The ingress routes, kept up to date one job at a time. Pure.

`compute_routes` (routes.py) reads every job and every instance status; at
thousands of jobs that is most of a node's work on each health change. A
`RouteTable` keeps each job's part of the routes (its HTTP route, its TCP
routes, its conflicts) and, told which jobs changed, recomputes only those,
plus the jobs that claim a host or TCP port one of them claims (or claimed),
whose winner may change with it. Its `routes()` equal `compute_routes` over
the same jobs and statuses, always: the property test holds it to that.

Who wins a claim is decided as there: a job's implicit `<job>.localhost`
first, then the job first by name; for a TCP port, the job first by name,
and within it the first entry.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from ozymandias.cluster.records import InstanceStatus
from ozymandias.ingress.port_range import PortRange, describe, in_range
from ozymandias.ingress.routes import (
    Backend,
    HttpRoute,
    Routes,
    TcpRoute,
    healthy_addresses,
    local_host,
)
from ozymandias.spec.models import JobSpec


@dataclass(frozen=True)
class _Part:
    """One job's share of the routes."""

    http: HttpRoute | None
    tcp: tuple[TcpRoute, ...]
    host_conflicts: tuple[str, ...]
    tcp_conflicts: tuple[str, ...]

    def shape(self) -> object:
        """All but the backends: what, when it changes, changes more than which servers."""
        http = None if self.http is None else (self.http.hosts, self.http.port)
        tcp = tuple((route.port, route.target_port) for route in self.tcp)
        return http, tcp, self.host_conflicts, self.tcp_conflicts


@dataclass(frozen=True)
class Changes:
    """What changed in the table since the last `take_changes`."""

    jobs: frozenset[str]  # whose routes changed
    backends_only: bool  # True: only their backends did (no route, host, port or conflict)


@dataclass(frozen=True)
class _Claims:
    """What a job's spec asks of the shared names: hosts and TCP ports (valid ones only)."""

    implicit: str | None
    listed: frozenset[str]
    tcp_ports: frozenset[int]

    def hosts(self) -> set[str]:
        return set(self.listed) | ({self.implicit} if self.implicit is not None else set())


_NO_CLAIMS = _Claims(None, frozenset(), frozenset())

K = TypeVar("K")


class RouteTable:
    """The routes of a set of jobs, updated by `update(job, spec, statuses)`."""

    def __init__(
        self, reserved_ports: Collection[int] = (), tcp_port_range: PortRange | None = None
    ) -> None:
        self._reserved = frozenset(reserved_ports)
        self._range = tcp_port_range
        self._specs: dict[str, JobSpec] = {}
        self._healthy: dict[str, list[tuple[str, str]]] = {}
        self._claims: dict[str, _Claims] = {}
        self._implicit: dict[str, str] = {}  # host -> the job whose <job>.localhost it is
        self._listed: dict[str, set[str]] = {}  # host -> jobs listing it
        self._tcp: dict[int, set[str]] = {}  # valid TCP port -> jobs with an entry for it
        self._parts: dict[str, _Part] = {}
        self._names: list[str] = []  # jobs with a part, sorted
        self._routes: Routes | None = Routes()
        self._changed: set[str] = set()
        self._reshaped = False

    def update(self, job: str, spec: JobSpec | None, statuses: Iterable[InstanceStatus]) -> None:
        """Take `job`'s current spec (None: deleted) and its instances' statuses."""
        healthy = healthy_addresses(statuses).get(job, [])
        if healthy:
            self._healthy[job] = healthy
        else:
            self._healthy.pop(job, None)
        before = self._claims.get(job, _NO_CLAIMS)
        after = _NO_CLAIMS if spec is None else self._claims_of(spec)
        if spec is None:
            self._specs.pop(job, None)
        else:
            self._specs[job] = spec
        affected = {job}
        if after != before:
            self._unclaim(job, before)
            self._claim(job, after)
            affected |= self._claimants(before) | self._claimants(after)
        for name in affected:
            self._refresh(name)

    def take_changes(self) -> Changes:
        """The jobs whose routes changed since the last call, and whether only backends did."""
        changes = Changes(frozenset(self._changed), not self._reshaped)
        self._changed.clear()
        self._reshaped = False
        return changes

    def job_routes(self, job: str) -> tuple[HttpRoute | None, tuple[TcpRoute, ...]]:
        """One job's routes: HTTP (None without one) and TCP."""
        part = self._parts.get(job)
        return (None, ()) if part is None else (part.http, part.tcp)

    def jobs(self) -> set[str]:
        """Every job the table knows of: with a spec, or with healthy instances."""
        return set(self._specs) | set(self._healthy)

    def routes(self) -> Routes:
        """The routes of every job the table holds, as `compute_routes` gives them."""
        if self._routes is None:
            parts = [self._parts[name] for name in self._names]
            tcp = sorted((route for part in parts for route in part.tcp), key=lambda r: r.port)
            self._routes = Routes(
                http=tuple(part.http for part in parts if part.http is not None),
                tcp=tuple(tcp),
                conflicts=tuple(c for part in parts for c in part.host_conflicts)
                + tuple(c for part in parts for c in part.tcp_conflicts),
            )
        return self._routes

    def _claims_of(self, spec: JobSpec) -> _Claims:
        if spec.http_ingress_port is None:
            listed: frozenset[str] = frozenset()
            implicit = None
        else:
            listed = frozenset(spec.ingress.hosts if spec.ingress is not None else ())
            implicit = local_host(spec.name)
        tcp = frozenset(
            entry.port
            for entry in (spec.ingress.tcp if spec.ingress is not None else ())
            if self._valid_tcp(entry.port)
        )
        return _Claims(implicit, listed, tcp)

    def _valid_tcp(self, port: int) -> bool:
        in_bounds = self._range is None or in_range(port, self._range)
        return in_bounds and port not in self._reserved

    def _claim(self, job: str, claims: _Claims) -> None:
        self._claims[job] = claims
        if claims.implicit is not None:
            self._implicit[claims.implicit] = job
        for host in claims.listed:
            self._listed.setdefault(host, set()).add(job)
        for port in claims.tcp_ports:
            self._tcp.setdefault(port, set()).add(job)

    def _unclaim(self, job: str, claims: _Claims) -> None:
        self._claims.pop(job, None)
        if claims.implicit is not None:
            self._implicit.pop(claims.implicit, None)
        for host in claims.listed:
            _discard(self._listed, host, job)
        for port in claims.tcp_ports:
            _discard(self._tcp, port, job)

    def _claimants(self, claims: _Claims) -> set[str]:
        """Every job that claims one of the hosts or ports in `claims`."""
        jobs: set[str] = set()
        for host in claims.hosts():
            jobs |= self._listed.get(host, set())
            if host in self._implicit:
                jobs.add(self._implicit[host])
        for port in claims.tcp_ports:
            jobs |= self._tcp.get(port, set())
        return jobs

    def _host_owner(self, host: str) -> str:
        return self._implicit.get(host) or min(self._listed[host])

    def _refresh(self, job: str) -> None:
        spec = self._specs.get(job)
        part = None if spec is None else self._part(spec)
        before = self._parts.get(job)
        if part == before:
            return
        self._routes = None
        self._changed.add(job)
        if part is None or before is None or part.shape() != before.shape():
            self._reshaped = True
        if part is None:
            del self._parts[job]
            self._names.pop(bisect.bisect_left(self._names, job))
            return
        if job not in self._parts:
            bisect.insort(self._names, job)
        self._parts[job] = part

    def _part(self, spec: JobSpec) -> _Part:
        job = spec.name
        healthy = self._healthy.get(job, [])

        def backends(port: int) -> tuple[Backend, ...]:
            return tuple(Backend(name, ip, port) for name, ip in healthy)

        http = None
        host_conflicts: list[str] = []
        port = spec.http_ingress_port
        if port is not None:
            hosts = {local_host(job)}
            for host in spec.ingress.hosts if spec.ingress is not None else ():
                owner = self._host_owner(host)
                if owner == job:
                    hosts.add(host)
                else:
                    host_conflicts.append(f"host {host} of job {job} is already routed to {owner}")
            http = HttpRoute(job, tuple(sorted(hosts)), port, backends(port), spec.num_instances)
        tcp: list[TcpRoute] = []
        tcp_conflicts: list[str] = []
        served: set[int] = set()
        for entry in spec.ingress.tcp if spec.ingress is not None else ():
            if self._range is not None and not in_range(entry.port, self._range):
                tcp_conflicts.append(
                    f"TCP port {entry.port} of job {job} is outside the TCP ingress"
                    f" port range {describe(self._range)}"
                )
            elif entry.port in self._reserved:
                tcp_conflicts.append(f"TCP port {entry.port} of job {job} is the HTTP ingress port")
            elif entry.port in served or min(self._tcp[entry.port]) != job:
                owner = min(self._tcp[entry.port])
                tcp_conflicts.append(
                    f"TCP port {entry.port} of job {job} is already routed to {owner}"
                )
            else:
                served.add(entry.port)
                tcp.append(
                    TcpRoute(
                        entry.port,
                        job,
                        entry.target_port,
                        backends(entry.target_port),
                        spec.num_instances,
                    )
                )
        return _Part(http, tuple(tcp), tuple(host_conflicts), tuple(tcp_conflicts))


def _discard(index: dict[K, set[str]], key: K, job: str) -> None:
    jobs = index.get(key)
    if jobs is not None:
        jobs.discard(job)
        if not jobs:
            del index[key]
