"""HAProxy's first start and large runtime updates, against a real HAProxy.

A node joining a running cluster starts HAProxy with every route at once,
with no separate `-c` pass: a config HAProxy refuses must still say why.
A cluster's worth of instances turning healthy at once is runtime commands
in bounded lines, never a reload.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from ozymandias.ingress.haproxy import Haproxy, HaproxyError
from ozymandias.ingress.haproxy_config import plan_layout
from ozymandias.ingress.routes import Backend, HttpRoute, Routes, TcpRoute
from tests.support.machine import free_port

POOLS = 300


def many_jobs(app_port: int, *, healthy: bool) -> Routes:
    """`POOLS` jobs of 8 instances, all on the test's app: healthy, or none yet."""
    http = []
    for n in range(POOLS):
        job = f"job-{n:03d}"
        backends = tuple(
            Backend(f"{job}-{index}", "127.0.0.1", app_port) for index in range(8) if healthy
        )
        http.append(HttpRoute(job, (f"{job}.test",), app_port, backends, instances=8))
    return Routes(http=tuple(http))


def get(haproxy: Haproxy, host: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{haproxy.http_port}/", headers={"host": host}, timeout=5)


async def test_haproxy_starts_serving_its_routes(tmp_path: Path, app_port: int) -> None:
    haproxy = Haproxy(tmp_path / "haproxy", free_port(), user=None)
    await haproxy.start(plan_layout(many_jobs(app_port, healthy=True)))
    try:
        assert get(haproxy, "job-299.test").text == "ok"
        assert "no job serves host" in get(haproxy, "other.test").text
    finally:
        await haproxy.stop()


async def test_a_start_haproxy_refuses_says_why(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        haproxy = Haproxy(tmp_path / "haproxy", free_port(), user=None)
        routes = Routes(tcp=(TcpRoute(port, "db", 5432, ()),))
        try:
            with pytest.raises(HaproxyError, match="cannot bind socket"):
                await haproxy.start(plan_layout(routes))
            assert haproxy.pid is None
        finally:
            await haproxy.stop()


async def test_every_instance_healthy_at_once_is_runtime_commands(
    tmp_path: Path, app_port: int
) -> None:
    haproxy = Haproxy(tmp_path / "haproxy", free_port(), user=None)
    await haproxy.start(plan_layout(many_jobs(app_port, healthy=False)))
    try:
        assert get(haproxy, "job-150.test").status_code == 503
        pid = haproxy.pid
        # 2,400 servers: two commands each, far more than one command line holds.
        await haproxy.apply(plan_layout(many_jobs(app_port, healthy=True), haproxy.layout))
        assert haproxy.pid == pid  # no reload
        assert get(haproxy, "job-150.test").text == "ok"
    finally:
        await haproxy.stop()
