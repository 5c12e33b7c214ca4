"""Ingress routes from jobs and instance statuses, and the HAProxy layouts they become."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus
from ozymandias.ingress.haproxy_config import (
    MIN_SLOTS,
    Settings,
    command_lines,
    plan_layout,
    render_config,
    render_hosts_map,
    runtime_commands,
)
from ozymandias.ingress.routes import (
    Backend,
    HttpRoute,
    Routes,
    TcpRoute,
    compute_routes,
    conflicts_added,
)
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import JobSpec


def job(name: str, ports: str = '["80:3000"]', ingress: str = "") -> JobSpec:
    extra = f"ingress: {ingress}\n" if ingress else ""
    return load_job(f"name: {name}\ncontainers: {{app: {{image: x, ports: {ports}}}}}\n{extra}")


def status(
    job_name: str,
    index: int,
    ip: str = "",
    state: InstanceState = InstanceState.RUNNING,
    health: Health = Health.HEALTHY,
) -> InstanceStatus:
    return InstanceStatus(
        job=job_name,
        index=index,
        node="n1",
        state=state,
        health=health,
        pod_ip=ip or f"10.213.1.{10 + index}",
    )


def web(index: int, port: int = 80) -> Backend:
    return Backend(f"web-{index}", f"10.213.1.{10 + index}", port)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param([], (), id="no instances"),
        pytest.param(
            [status("web", 2), status("web", 0)], (web(0), web(2)), id="healthy, by index"
        ),
        pytest.param(
            [
                status("web", 0),
                status("web", 1, health=Health.UNHEALTHY),
                status("web", 2, health=Health.STARTING),
                status("web", 3, state=InstanceState.COMPLETED),
                status("other", 4),
            ],
            (web(0),),
            id="only healthy running instances of the job",
        ),
    ],
)
def test_http_backends(statuses: list[InstanceStatus], expected: tuple[Backend, ...]) -> None:
    routes = compute_routes([job("web")], statuses)
    assert routes.http == (HttpRoute("web", ("web.localhost",), 80, expected, 1),)


def test_hosts_ports_and_tcp() -> None:
    spec = job(
        "web",
        '["80:3000", "8443", "5432"]',
        "{hosts: [shop.test], port: 8443, tcp: [{port: 15432, targetPort: 5432}]}",
    )
    routes = compute_routes([spec, job("batch", "[]")], [status("web", 0)])
    assert routes.http == (
        HttpRoute("web", ("shop.test", "web.localhost"), 8443, (web(0, 8443),), 1),
    )
    assert routes.tcp == (TcpRoute(15432, "web", 5432, (web(0, 5432),), 1),)
    assert routes.conflicts == ()


def test_conflicts_go_to_the_first_job_by_name() -> None:
    routes = compute_routes(
        [
            job(
                "b",
                ingress="{hosts: [a.localhost, shared.test], tcp: [{port: 9000, targetPort: 80}]}",
            ),
            job("a", ingress="{hosts: [shared.test], tcp: [{port: 9000, targetPort: 80}]}"),
            job("c", ingress="{tcp: [{port: 8080, targetPort: 80}]}"),
        ],
        [],
        reserved_ports={8080},
    )
    assert [(route.job, route.hosts) for route in routes.http] == [
        ("a", ("a.localhost", "shared.test")),
        ("b", ("b.localhost",)),
        ("c", ("c.localhost",)),
    ]
    assert [(route.port, route.job) for route in routes.tcp] == [(9000, "a")]
    assert routes.conflicts == (
        "host a.localhost of job b is already routed to a",
        "host shared.test of job b is already routed to a",
        "TCP port 9000 of job b is already routed to a",
        "TCP port 8080 of job c is the HTTP ingress port",
    )


def http_routes(*backends: Backend) -> Routes:
    return Routes(http=(HttpRoute("web", ("web.localhost",), 80, backends),))


def test_backends_keep_their_slots_and_changes_are_runtime_commands() -> None:
    first = plan_layout(http_routes(web(0), web(1), web(2)))
    assert first.pools[0].slots[:3] == (web(0), web(1), web(2))
    assert len(first.pools[0].slots) == MIN_SLOTS

    second = plan_layout(http_routes(web(0), web(2), web(3)), first)
    assert second.shape() == first.shape()
    assert second.pools[0].slots[:3] == (web(0), web(3), web(2))
    assert runtime_commands(first, second) == [
        "set server http-web/s1 state maint",
        "set server http-web/s1 addr 10.213.1.13 port 80",
        "set server http-web/s1 state ready",
    ]
    emptied = plan_layout(http_routes(), second)
    assert runtime_commands(second, emptied) == [
        f"set server http-web/s{slot} state maint" for slot in range(3)
    ]


def test_shape_changes_need_a_reload() -> None:
    small = plan_layout(http_routes(web(0)))
    grown = plan_layout(http_routes(*(web(i) for i in range(MIN_SLOTS + 1))), small)
    assert len(grown.pools[0].slots) == 2 * MIN_SLOTS
    assert grown.shape() != small.shape()
    with pytest.raises(ValueError, match="reload"):
        runtime_commands(small, grown)
    with_host = plan_layout(
        Routes(http=(HttpRoute("web", ("shop.test", "web.localhost"), 80, (web(0),)),)), small
    )
    assert with_host.shape() != small.shape()


def test_rendered_config() -> None:
    routes = Routes(
        http=(HttpRoute("web", ("shop.test", "web.localhost"), 80, (web(0),)),),
        tcp=(TcpRoute(15432, "db", 5432, ()),),
    )
    layout = plan_layout(routes)
    settings = Settings(8080, Path("/run/x/stats-1.sock"), Path("/run/x/hosts-1.map"))
    config = render_config(layout, settings)
    assert render_hosts_map(layout) == "shop.test http-web\nweb.localhost http-web\n"
    for line in [
        "stats socket /run/x/stats-1.sock mode 600 level admin expose-fd listeners",
        "bind 0.0.0.0:8080",
        "option forwardfor",
        "http-request set-header X-Forwarded-Proto http",
        "http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        "map_str(/run/x/hosts-1.map)",
        'string "no healthy instance of job web\\n" if { nbsrv lt 1 }',
        "server s0 10.213.1.10:80",
        "server s1 127.0.0.1:1 disabled",
        "frontend tcp-15432-in",
        "bind 0.0.0.0:15432",
        "backend tcp-15432",
        "retries 1",
        "option redispatch 1",
    ]:
        assert line in config


@pytest.mark.parametrize(
    ("new", "warned"),
    [
        pytest.param(job("fresh", ingress="{hosts: [fresh.test]}"), [], id="a free host"),
        pytest.param(
            job("zeta", ingress="{hosts: [shop.test]}"),
            ["host shop.test of job zeta is already routed to shop"],
            id="a host another job has",
        ),
        pytest.param(
            job("alpha", ingress="{hosts: [shop.test]}"),
            ["host shop.test of job shop is already routed to alpha"],
            id="a host it takes from another job, first by name",
        ),
        pytest.param(
            job("shop", ingress="{hosts: [shop.test, more.test]}"), [], id="the job's own update"
        ),
        pytest.param(
            job("tcp", ingress="{tcp: [{port: 9000, targetPort: 80}]}"),
            ["TCP port 9000 of job tcp is already routed to shop"],
            id="a TCP port another job has",
        ),
    ],
)
def test_a_submit_is_told_the_ingress_conflicts_it_brings(new: JobSpec, warned: list[str]) -> None:
    existing = [
        job("shop", ingress="{hosts: [shop.test], tcp: [{port: 9000, targetPort: 80}]}"),
        job("other", ingress="{hosts: [other.test]}"),
    ]
    assert conflicts_added(new, existing) == warned


@pytest.mark.parametrize(
    ("commands", "max_bytes", "lines"),
    [
        ([], 10, []),
        (["aa", "bb"], 10, ["aa;bb"]),
        (["aa", "bb", "cc"], 5, ["aa;bb", "cc"]),
        (["aaaa", "bb"], 6, ["aaaa", "bb"]),  # "aaaa;bb" is 7
        (["a-long-one", "b"], 4, ["a-long-one", "b"]),  # alone on its line, never cut
    ],
)
def test_runtime_commands_go_in_bounded_lines(
    commands: list[str], max_bytes: int, lines: list[str]
) -> None:
    assert command_lines(commands, max_bytes) == lines


def test_a_whole_clusters_commands_fit_haproxys_command_buffer() -> None:
    commands = [f"set server http-job-{n:05d}/s{n % 16} state ready" for n in range(10_000)]
    lines = command_lines(commands)
    assert all(len(line) <= 8192 for line in lines)
    assert ";".join(lines).split(";") == commands
