"""The ingress metrics against a real HAProxy: requests through it move the counters.

HAProxy is run by `ingress.haproxy.Haproxy`, as a node runs it, in front of a
small HTTP server on loopback; the figures are scraped through
prometheus_client's exposition and parser, as Prometheus would read them.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ozymandias.ingress.haproxy import Haproxy
from ozymandias.ingress.haproxy_config import plan_layout
from ozymandias.ingress.routes import Backend, HttpRoute, Routes
from ozymandias.metrics.ingress import IngressCollector
from tests.support.machine import free_port
from tests.support.waiting import eventually, within

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def routes(app_port: int, *, healthy: bool, other_job: bool = False) -> Routes:
    backends = (Backend("shop-0", "127.0.0.1", app_port),) if healthy else ()
    http = [HttpRoute("shop", ("shop.test",), app_port, backends)]
    if other_job:
        http.append(HttpRoute("blog", ("blog.test",), app_port, ()))
    return Routes(http=tuple(http))


def scrape(collector: IngressCollector) -> Samples:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def requests(samples: Samples, code: str) -> float | None:
    return value(samples, "ozy_ingress_http_requests_total", job="shop", code=code)


async def test_requests_through_haproxy_move_the_counters(tmp_path: Path, app_port: int) -> None:
    haproxy = Haproxy(tmp_path / "haproxy", free_port(), user=None)
    collector = IngressCollector(haproxy)
    assert scrape(collector) == {("ozy_ingress_up", frozenset()): 0}  # not started yet
    await haproxy.start()
    try:
        await haproxy.apply(plan_layout(routes(app_port, healthy=True), haproxy.layout))
        url = f"http://127.0.0.1:{haproxy.http_port}"
        # A new connection each: a kept-alive one stays with the old process after a reload.
        fresh = httpx.Limits(max_keepalive_connections=0)
        headers = {"host": "shop.test"}
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=fresh) as client:
            for path in ("/", "/", "/", "/fail"):
                await client.get(path)
            await eventually(lambda: requests(scrape(collector), "2xx") == 3, "3 requests 2xx")
            samples = scrape(collector)
            assert value(samples, "ozy_ingress_up") == 1
            assert requests(samples, "5xx") == 1
            assert value(samples, "ozy_ingress_servers", job="shop", state="up") == 1
            assert value(samples, "ozy_ingress_servers", job="shop", state="down") == 0

            # Its one instance leaves (a runtime command, no reload): the slot empties,
            # which is not "down", and HAProxy answers 503 itself.
            await haproxy.apply(plan_layout(routes(app_port, healthy=False), haproxy.layout))
            assert (await client.get("/")).status_code == 503
            await eventually(lambda: requests(scrape(collector), "5xx") == 2, "HAProxy's 503")
            samples = scrape(collector)
            assert requests(samples, "2xx") == 3  # same process: counters kept
            assert value(samples, "ozy_ingress_servers", job="shop", state="up") == 0
            assert value(samples, "ozy_ingress_servers", job="shop", state="down") == 0

            # A new job changes the shape: a reload, a new process, counters from zero.
            pid = haproxy.pid
            layout = plan_layout(routes(app_port, healthy=True, other_job=True), haproxy.layout)
            await haproxy.apply(layout)
            assert haproxy.pid != pid
            samples = scrape(collector)
            assert requests(samples, "2xx") == 0
            assert value(samples, "ozy_ingress_servers", job="blog", state="up") == 0
            assert (await client.get("/")).status_code == 200
            await eventually(lambda: requests(scrape(collector), "2xx") == 1, "counted anew")
    finally:
        await haproxy.stop()
    assert scrape(collector) == {("ozy_ingress_up", frozenset()): 0}


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def test_a_stalled_haproxy_gives_no_samples_within_the_read_deadline(
    tmp_path: Path, app_port: int
) -> None:
    haproxy = Haproxy(tmp_path / "haproxy", free_port(), user=None)
    collector = IngressCollector(haproxy)
    await haproxy.start()
    assert haproxy.pid is not None
    workers = children(haproxy.pid)
    assert workers, "HAProxy's master has a worker"
    try:
        # A stopped worker: the stats socket accepts (the kernel's backlog), nothing answers.
        for worker in workers:
            os.kill(worker, signal.SIGSTOP)
        samples = await within(asyncio.to_thread(scrape, collector), "a scrape", seconds=10)
        assert samples == {("ozy_ingress_up", frozenset()): 0}
    finally:
        for worker in workers:
            os.kill(worker, signal.SIGCONT)
        await haproxy.stop()
