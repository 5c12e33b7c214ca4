"""HAProxy's `show stat` CSV read back into per-job figures, and the collector that serves them."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ozymandias.ingress.haproxy_config import Layout, plan_layout
from ozymandias.ingress.haproxy_stats import (
    IngressStats,
    StatFormatError,
    parse_stat_csv,
    summarize,
)
from ozymandias.ingress.routes import Backend, HttpRoute, Routes, TcpRoute
from ozymandias.metrics.ingress import READ_TIMEOUT_SECONDS, IngressCollector

# HAProxy 2.6's header, up to the columns read here (the rest are left out of the rows).
HEADER = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"
    "wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,"
    "sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
    "check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,"
)
COLUMNS = HEADER[2:].rstrip(",").split(",")


def row(proxy: str, server: str, **fields: str | int) -> str:
    values = {"pxname": proxy, "svname": server, **{k: str(v) for k, v in fields.items()}}
    return ",".join(values.get(column, "") for column in COLUMNS) + ","


def backend(instance: str, address: str) -> Backend:
    return Backend(instance, address, 3000)


# shop: HTTP, two instances in slots 0 and 1 of 8. db: two TCP ports, one instance.
# idle: HTTP, no healthy instance (every slot empty).
LAYOUT = plan_layout(
    Routes(
        http=(
            HttpRoute("idle", ("idle.localhost",), 80, ()),
            HttpRoute(
                "shop",
                ("shop.localhost",),
                80,
                (backend("shop-0", "10.0.0.2"), backend("shop-1", "10.0.0.3")),
            ),
        ),
        tcp=(
            TcpRoute(31000, "db", 5432, (backend("db-0", "10.0.0.9"),)),
            TcpRoute(31001, "db", 5432, (backend("db-0", "10.0.0.9"),)),
        ),
    )
)

STATS = "\n".join(
    [
        HEADER,
        row("http-in", "FRONTEND", status="OPEN", ereq=3, stot=40, hrsp_2xx=20, hrsp_4xx=9),
        row("http-shop", "s0", status="no check", stot=12, hrsp_2xx=12),
        row("http-shop", "s1", status="MAINT", stot=5, hrsp_2xx=4, hrsp_5xx=1),
        *(row("http-shop", f"s{i}", status="MAINT") for i in range(2, 8)),
        row(
            "http-shop",
            "BACKEND",
            status="UP",
            stot=18,
            econ=1,
            eresp=2,
            hrsp_1xx=0,
            hrsp_2xx=16,
            hrsp_3xx=1,
            hrsp_4xx=0,
            hrsp_5xx=1,
        ),
        *(row("http-idle", f"s{i}", status="MAINT") for i in range(8)),
        row("http-idle", "BACKEND", status="DOWN", stot=0, hrsp_5xx=4),
        row("tcp-31000-in", "FRONTEND", status="OPEN", ereq=1, stot=7),
        row("tcp-31000", "s0", status="UP", stot=7),
        row("tcp-31000", "BACKEND", status="UP", stot=7, econ=2),
        row("tcp-31001-in", "FRONTEND", status="OPEN", ereq=0, stot=3),
        row("tcp-31001", "s0", status="DOWN", stot=3),
        row("tcp-31001", "BACKEND", status="DOWN", stot=3),
        # A pool this layout does not have (an older generation's): ignored.
        row("http-gone", "BACKEND", status="UP", hrsp_2xx=99),
        "",
    ]
)


def test_rows_are_read_by_their_header() -> None:
    rows = parse_stat_csv(STATS)
    assert len(rows) == 1 + 9 + 9 + 3 + 3 + 1
    front = rows[0]
    assert (front.proxy, front.server, front.status) == ("http-in", "FRONTEND", "OPEN")
    assert front.count("ereq") == 3
    assert front.count("econ") == 0  # left empty by HAProxy for a frontend


@pytest.mark.parametrize("text", ["", "Unknown command\n", "pxname,svname\nhttp-in,FRONTEND\n"])
def test_anything_but_stat_csv_is_refused(text: str) -> None:
    with pytest.raises(StatFormatError):
        parse_stat_csv(text)


def test_backends_give_each_job_its_responses_connections_errors_and_servers() -> None:
    stats = summarize(parse_stat_csv(STATS), LAYOUT)
    assert stats.http_request_errors == 3
    assert set(stats.jobs) == {"shop", "idle", "db"}

    shop = stats.jobs["shop"]
    assert (shop.http, shop.tcp) == (True, False)
    assert shop.responses == {"1xx": 0, "2xx": 16, "3xx": 1, "4xx": 0, "5xx": 1}
    assert shop.errors == {"request": 0, "connect": 1, "response": 2}
    # Slot 1 holds shop-1 but stands in maintenance: down. Slots 2-7 are empty: neither.
    assert (shop.servers_up, shop.servers_down) == (1, 1)

    idle = stats.jobs["idle"]
    assert idle.responses["5xx"] == 4  # HAProxy's own 503: no healthy instance
    assert (idle.servers_up, idle.servers_down) == (0, 0)

    db = stats.jobs["db"]
    assert (db.http, db.tcp) == (False, True)
    assert db.connections == 10  # both ports
    assert db.errors == {"request": 1, "connect": 2, "response": 0}
    assert (db.servers_up, db.servers_down) == (1, 1)


@pytest.mark.parametrize(
    ("status", "up"),
    [("UP", True), ("UP 1/3", True), ("no check", True), ("DOWN", False), ("DOWN 1/2", False),
     ("NOLB", False), ("DRAIN", False), ("MAINT", False), ("MAINT (via http-x/s0)", False)],
)  # fmt: skip
def test_a_filled_slot_is_up_or_down_by_its_status(status: str, up: bool) -> None:
    layout = plan_layout(Routes(http=(HttpRoute("a", (), 80, (backend("a-0", "10.0.0.2"),)),)))
    stats = summarize(parse_stat_csv(f"{HEADER}\n{row('http-a', 's0', status=status)}\n"), layout)
    assert (stats.jobs["a"].servers_up, stats.jobs["a"].servers_down) == (int(up), int(not up))


class Source:
    def __init__(self, reply: str | Exception, layout: Layout = LAYOUT) -> None:
        self.reply = reply
        self.layout = layout
        self.timeouts: list[float] = []

    def read_stats(self, timeout: float) -> tuple[Layout, str]:
        self.timeouts.append(timeout)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.layout, self.reply


def scrape(collector: IngressCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_serves_the_figures_by_job() -> None:
    source = Source(STATS)
    samples = scrape(IngressCollector(source))
    assert source.timeouts == [READ_TIMEOUT_SECONDS]
    assert samples[("ozy_ingress_up", ())] == 1
    assert samples[("ozy_ingress_http_requests_total", (("code", "2xx"), ("job", "shop")))] == 16
    assert samples[("ozy_ingress_http_requests_total", (("code", "5xx"), ("job", "idle")))] == 4
    assert samples[("ozy_ingress_tcp_connections_total", (("job", "db"),))] == 10
    assert samples[("ozy_ingress_errors_total", (("job", "shop"), ("kind", "response")))] == 2
    assert samples[("ozy_ingress_http_request_errors_total", ())] == 3
    assert samples[("ozy_ingress_servers", (("job", "shop"), ("state", "down")))] == 1
    assert samples[("ozy_ingress_servers", (("job", "idle"), ("state", "up")))] == 0
    # A TCP-only job has no HTTP requests; an HTTP-only job no TCP connections.
    assert not any(name.startswith("ozy_ingress_http_requests") and ("job", "db") in labels
                   for name, labels in samples)  # fmt: skip
    assert ("ozy_ingress_tcp_connections_total", (("job", "shop"),)) not in samples


@pytest.mark.parametrize(
    "failure", [TimeoutError("slow"), ConnectionRefusedError("down"), "Unknown command.\n"]
)
def test_an_unreadable_haproxy_gives_no_ingress_samples_but_up_0(failure: str | Exception) -> None:
    assert scrape(IngressCollector(Source(failure))) == {("ozy_ingress_up", ()): 0}


def test_every_family_is_described_without_reading_haproxy() -> None:
    source = Source(STATS)
    names = {family.name for family in IngressCollector(source).describe()}
    assert names == {
        "ozy_ingress_up",
        "ozy_ingress_http_requests",
        "ozy_ingress_tcp_connections",
        "ozy_ingress_errors",
        "ozy_ingress_http_request_errors",
        "ozy_ingress_servers",
    }
    assert not source.timeouts


def test_empty_layout_and_stats_have_no_jobs() -> None:
    assert summarize(parse_stat_csv(HEADER + "\n"), Layout()) == IngressStats({}, 0)
