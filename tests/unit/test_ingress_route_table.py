"""Incremental routes: after any sequence of changes, the table's routes are those
computed from scratch over the same jobs and statuses.

Few job names, hosts and ports, so that jobs often fight over a host or a TCP
port, and a change moves the winner of another job's claim.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus
from ozymandias.ingress.haproxy_config import (
    MIN_SLOTS,
    Layout,
    http_pool_name,
    plan_layout,
    tcp_pool_name,
    with_backends,
)
from ozymandias.ingress.route_table import RouteTable
from ozymandias.ingress.routes import Backend, HttpRoute, Routes, compute_routes
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import JobSpec

NAMES = ["a", "b", "c", "d"]
HOSTS = ["a.localhost", "b.localhost", "shop.example", "api.example"]
# 8080 is the HTTP listener, 22 is outside the range, the others inside.
TCP_PORTS = [22, 8080, 30000, 30001]
RANGE = (30000, 32767)
RESERVED = {8080}


@st.composite
def specs(draw: st.DrawFn, name: str) -> JobSpec:
    # Each with its tcp cluster ports (a TCP entry's target); udp only: no HTTP route.
    ports, targets = draw(
        st.sampled_from(
            [
                ('["80:3000"]', [80]),
                ('["5432"]', [5432]),
                ('["53/udp"]', []),
                ('["80", "81"]', [80, 81]),
            ]
        )
    )
    ingress = []
    hosts = draw(st.lists(st.sampled_from(HOSTS), max_size=3, unique=True))
    if hosts:
        ingress.append(f"hosts: [{', '.join(hosts)}]")
    tcp = draw(st.lists(st.sampled_from(TCP_PORTS), max_size=3, unique=True)) if targets else []
    if tcp:
        entries = ", ".join(
            f"{{port: {port}, targetPort: {draw(st.sampled_from(targets))}}}" for port in tcp
        )
        ingress.append(f"tcp: [{entries}]")
    extra = f"ingress: {{{', '.join(ingress)}}}\n" if ingress else ""
    return load_job(f"name: {name}\ncontainers: {{app: {{image: x, ports: {ports}}}}}\n{extra}")


@st.composite
def statuses(draw: st.DrawFn, name: str) -> list[InstanceStatus]:
    indexes = draw(st.sets(st.integers(0, 4), max_size=4))
    return [
        InstanceStatus(
            job=name,
            index=index,
            node="n1",
            state=draw(st.sampled_from([InstanceState.RUNNING, InstanceState.STARTING])),
            health=draw(st.sampled_from([Health.HEALTHY, Health.UNHEALTHY])),
            pod_ip=draw(st.sampled_from(["", f"10.0.0.{index}", f"10.0.1.{index}"])),
        )
        for index in sorted(indexes)
    ]


@st.composite
def changes(draw: st.DrawFn) -> tuple[str, JobSpec | None, list[InstanceStatus]]:
    """One job's new state: its spec (None: deleted) and its instances' statuses."""
    name = draw(st.sampled_from(NAMES))
    spec = draw(st.none() | specs(name))
    return name, spec, draw(statuses(name))


@settings(max_examples=300, deadline=None)
@given(st.lists(changes(), min_size=1, max_size=25))
def test_routes_after_any_changes_equal_routes_from_scratch(
    steps: list[tuple[str, JobSpec | None, list[InstanceStatus]]],
) -> None:
    table = RouteTable(RESERVED, RANGE)
    jobs: dict[str, JobSpec] = {}
    instances: dict[str, list[InstanceStatus]] = {}
    layout = plan_layout(table.routes())
    for name, spec, job_statuses in steps:
        if spec is None:
            jobs.pop(name, None)
        else:
            jobs[name] = spec
        instances[name] = job_statuses
        table.update(name, spec, job_statuses)
        every_status = [status for group in instances.values() for status in group]
        scratch = compute_routes(jobs.values(), every_status, RESERVED, RANGE)
        assert table.routes() == scratch
        # What the controller does with the changes: a health change moves backends only.
        changes = table.take_changes()
        moved = with_backends(layout, pool_backends(table, changes.jobs))
        if changes.backends_only and moved is not None:
            assert moved.shape() == layout.shape()
            assert servers(moved) == servers(plan_layout(scratch))
            layout = moved
        else:
            layout = plan_layout(table.routes(), layout)


def pool_backends(table: RouteTable, jobs: Iterable[str]) -> dict[str, tuple[Backend, ...]]:
    backends = {}
    for job in jobs:
        http, tcp = table.job_routes(job)
        if http is not None:
            backends[http_pool_name(job)] = http.backends
        backends |= {tcp_pool_name(route.port): route.backends for route in tcp}
    return backends


def servers(layout: Layout) -> dict[str, set[Backend]]:
    return {pool.name: {slot for slot in pool.slots if slot} for pool in layout.pools}


def test_backends_move_in_their_slots_until_a_pool_outgrows_them() -> None:
    web = [Backend(f"web-{i}", f"10.0.0.{i}", 80) for i in range(MIN_SLOTS + 1)]
    layout = plan_layout(Routes(http=(HttpRoute("web", ("web.localhost",), 80, tuple(web[:2])),)))
    moved = with_backends(layout, {"http-web": (web[1], web[2])})
    assert moved is not None and moved.shape() == layout.shape()
    # web-1 stays put; web-2 takes the first free slot, web-0's.
    assert moved.pools[0].slots[:3] == (web[2], web[1], None)
    assert with_backends(layout, {"http-web": tuple(web)}) is None  # outgrown: a reload
    assert with_backends(layout, {"http-db": ()}) is None  # no such pool: a reload


def test_a_pool_has_slots_for_every_instance_of_its_job_from_the_start() -> None:
    web = [Backend(f"web-{i}", f"10.0.0.{i}", 80) for i in range(12)]
    route = HttpRoute("web", ("web.localhost",), 80, tuple(web[:2]), instances=10)
    layout = plan_layout(Routes(http=(route,)))
    assert len(layout.pools[0].slots) == 12  # a quarter more than its instances
    # Every instance healthy at once still fits, and a surge or two: runtime commands.
    moved = with_backends(layout, {"http-web": tuple(web)})
    assert moved is not None and moved.shape() == layout.shape()


@pytest.mark.parametrize(
    ("instances", "healthy", "slots"),
    [(0, 0, MIN_SLOTS), (1, 1, MIN_SLOTS), (10, 3, 12), (10, 14, 17), (100, 100, 125)],
)
def test_a_new_pool_has_a_quarter_more_slots_than_it_needs(
    instances: int, healthy: int, slots: int
) -> None:
    backends = tuple(Backend(f"web-{i}", f"10.0.{i // 250}.{i % 250}", 80) for i in range(healthy))
    route = HttpRoute("web", ("web.localhost",), 80, backends, instances=instances)
    assert len(plan_layout(Routes(http=(route,))).pools[0].slots) == slots


def test_a_deleted_job_frees_its_host_for_the_next_claimant() -> None:
    shop = "containers: {app: {image: x, ports: ['80']}}\ningress: {hosts: [shop.example]}"
    table = RouteTable()
    table.update("a", load_job(f"name: a\n{shop}"), [])
    table.update("b", load_job(f"name: b\n{shop}"), [])
    assert table.routes().conflicts == ("host shop.example of job b is already routed to a",)
    table.update("a", None, [])
    assert [(route.job, route.hosts) for route in table.routes().http] == [
        ("b", ("b.localhost", "shop.example"))
    ]
    assert table.routes().conflicts == ()
