"""Ingress hardening, the pure parts: who HAProxy runs as, whose X-Forwarded-For it keeps,
the TCP ingress port range, and TCP ports another process holds."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

import pytest

from ozymandias.ingress.haproxy_config import Settings, plan_layout, render_config
from ozymandias.ingress.port_range import (
    DEFAULT_TCP_PORT_RANGE,
    PortRange,
    parse_port_range,
    ports_outside_range,
)
from ozymandias.ingress.routes import (
    Backend,
    HttpRoute,
    Routes,
    TcpRoute,
    compute_routes,
    leave_out_taken,
    ports_to_probe,
)
from ozymandias.spec.loader import FieldProblem, load_job
from ozymandias.spec.models import JobSpec

STATS = Path("/run/x/stats-1.sock")
HOSTS = Path("/run/x/hosts-1.map")
ROUTES = Routes(
    http=(HttpRoute("web", ("web.localhost",), 80, (Backend("web-0", "10.213.1.10", 80),)),),
    tcp=(TcpRoute(31000, "db", 5432, ()),),
)


def config(**settings: object) -> list[str]:
    """The rendered config's lines, stripped, for `Settings` with these fields."""
    rendered = render_config(plan_layout(ROUTES), Settings(8080, STATS, HOSTS, **settings))  # type: ignore[arg-type]
    return [line.strip() for line in rendered.splitlines()]


@pytest.mark.parametrize(
    ("settings", "present", "absent"),
    [
        pytest.param(
            {}, ["master-worker", "user nobody", "group nogroup"], [], id="nobody by default"
        ),
        pytest.param(
            {"user": "ozy-ingress", "group": "ozy-ingress"},
            ["master-worker", "user ozy-ingress", "group ozy-ingress"],
            ["user nobody"],
            id="a user of its own",
        ),
        pytest.param(
            {"user": None, "group": None},
            ["master-worker"],
            ["user nobody", "group nogroup"],
            id="stays as started",
        ),
    ],
)
def test_user_and_group(settings: dict[str, object], present: list[str], absent: list[str]) -> None:
    lines = config(**settings)
    global_section = lines[: lines.index("defaults")]
    for line in present:
        assert line in global_section
    for line in absent:
        assert line not in lines


def test_the_worker_drops_after_the_stats_socket_is_set_up_in_global() -> None:
    # The socket is bound before the drop: it must be in `global`, where HAProxy binds it as root.
    lines = config()
    global_section = lines[: lines.index("defaults")]
    assert any(line.startswith(f"stats socket {STATS} mode 600") for line in global_section)


Networks = tuple[IPv4Network | IPv6Network, ...]


@pytest.mark.parametrize(
    ("trusted", "rule"),
    [
        pytest.param((), "http-request del-header X-Forwarded-For", id="no trusted proxy"),
        pytest.param(
            (ip_network("10.0.0.0/8"),),
            "http-request del-header X-Forwarded-For unless { src 10.0.0.0/8 }",
            id="one",
        ),
        pytest.param(
            (ip_network("10.0.0.0/8"), ip_network("192.0.2.7/32"), ip_network("2001:db8::/32")),
            "http-request del-header X-Forwarded-For unless { src 10.0.0.0/8 192.0.2.7/32"
            " 2001:db8::/32 }",
            id="several, IPv6 too",
        ),
    ],
)
def test_forwarded_for_is_kept_only_from_trusted_proxies(trusted: Networks, rule: str) -> None:
    lines = config(trusted_proxies=trusted)
    frontend = lines[lines.index("frontend http-in") :]
    assert [line for line in frontend if line.startswith("http-request del-header")] == [rule]
    # Dropped before HAProxy adds the client's address (forwardfor runs after http-request).
    assert frontend.index(rule) < frontend.index("option forwardfor")


def job(tcp: str = "", name: str = "db") -> JobSpec:
    ingress = f"ingress: {{tcp: [{tcp}]}}\n" if tcp else ""
    return load_job(
        f"name: {name}\ncontainers: {{app: {{image: x, ports: ['5432', '80']}}}}\n{ingress}"
    )


@pytest.mark.parametrize(
    ("tcp", "port_range", "problems"),
    [
        pytest.param("", DEFAULT_TCP_PORT_RANGE, [], id="no ingress"),
        pytest.param(
            "{port: 30000, targetPort: 5432}, {port: 32767, targetPort: 80}",
            DEFAULT_TCP_PORT_RANGE,
            [],
            id="both ends are in",
        ),
        pytest.param(
            "{port: 22, targetPort: 5432}, {port: 31000, targetPort: 80}",
            DEFAULT_TCP_PORT_RANGE,
            [
                FieldProblem(
                    "ingress.tcp.0.port", "22 is outside the TCP ingress port range 30000-32767"
                )
            ],
            id="ssh's port",
        ),
        pytest.param(
            "{port: 29999, targetPort: 5432}, {port: 32768, targetPort: 80}",
            DEFAULT_TCP_PORT_RANGE,
            [
                FieldProblem(
                    "ingress.tcp.0.port", "29999 is outside the TCP ingress port range 30000-32767"
                ),
                FieldProblem(
                    "ingress.tcp.1.port", "32768 is outside the TCP ingress port range 30000-32767"
                ),
            ],
            id="just outside either end",
        ),
        pytest.param(
            "{port: 5432, targetPort: 5432}", (5000, 6000), [], id="a range of the node's choice"
        ),
    ],
)
def test_ports_outside_range(tcp: str, port_range: PortRange, problems: list[FieldProblem]) -> None:
    assert ports_outside_range(job(tcp), port_range) == problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30000-32767", (30000, 32767)),
        (" 8000-8000 ", (8000, 8000)),
        ("1-65535", (1, 65535)),
        ("32767-30000", None),
        ("0-100", None),
        ("30000-70000", None),
        ("30000", None),
        ("a-b", None),
        ("", None),
    ],
)
def test_parse_port_range(text: str, expected: PortRange | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="is not a port range"):
            parse_port_range(text)
    else:
        assert parse_port_range(text) == expected


def test_the_routes_skip_ports_outside_the_range() -> None:
    routes = compute_routes(
        [
            job("{port: 22, targetPort: 5432}, {port: 31000, targetPort: 80}", name="a"),
            job("{port: 31001, targetPort: 5432}", name="b"),
        ],
        [],
        tcp_port_range=DEFAULT_TCP_PORT_RANGE,
    )
    assert [(route.port, route.job) for route in routes.tcp] == [(31000, "a"), (31001, "b")]
    assert routes.conflicts == (
        "TCP port 22 of job a is outside the TCP ingress port range 30000-32767",
    )
    # Without a range (the default), any port may be routed.
    assert [
        route.port for route in compute_routes([job("{port: 22, targetPort: 80}")], []).tcp
    ] == [22]


def tcp_routes(*ports: int) -> Routes:
    return Routes(
        http=ROUTES.http,
        tcp=tuple(TcpRoute(port, f"job{port}", 5432, ()) for port in ports),
        conflicts=("host x of job b is already routed to a",),
    )


@pytest.mark.parametrize(
    ("ports", "held", "probed"),
    [
        pytest.param((), (), [], id="no TCP route"),
        pytest.param((31000, 31001), (), [31000, 31001], id="HAProxy holds none"),
        pytest.param((31000, 31001), (31001, 31005), [31000], id="not those HAProxy holds"),
        pytest.param((31000,), (31000,), [], id="all held"),
    ],
)
def test_ports_to_probe(ports: tuple[int, ...], held: tuple[int, ...], probed: list[int]) -> None:
    assert ports_to_probe(tcp_routes(*ports), held) == probed


@pytest.mark.parametrize(
    ("ports", "taken", "served", "new_conflicts"),
    [
        pytest.param((31000, 31001), (), (31000, 31001), (), id="nothing taken"),
        pytest.param(
            (31000, 31001),
            (31001,),
            (31000,),
            ("TCP port 31001 of job job31001 is in use by another process on this node",),
            id="one taken, the other served",
        ),
        pytest.param(
            (31000,),
            (31000, 31002),
            (),
            ("TCP port 31000 of job job31000 is in use by another process on this node",),
            id="a taken port no route wants is not reported",
        ),
    ],
)
def test_taken_ports_are_left_out_and_reported(
    ports: tuple[int, ...],
    taken: tuple[int, ...],
    served: tuple[int, ...],
    new_conflicts: tuple[str, ...],
) -> None:
    routes = tcp_routes(*ports)
    left = leave_out_taken(routes, taken)
    assert left.http == routes.http  # the HTTP routes never wait on a TCP port
    assert tuple(route.port for route in left.tcp) == served
    assert left.conflicts == routes.conflicts + new_conflicts
