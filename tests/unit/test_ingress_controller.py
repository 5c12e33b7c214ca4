"""The ingress controller against real mirrors over an in-memory etcd and a fake proxy.

What it serves leaves out TCP ports another process holds on the node, and
ports outside the node's range, without holding back the other routes; a
freed port is served once the controller looks again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus, JobRecord
from ozymandias.ingress import controller as controller_module
from ozymandias.ingress.controller import IngressController
from ozymandias.ingress.haproxy import HaproxyError
from ozymandias.ingress.haproxy_config import Layout
from ozymandias.ingress.port_range import DEFAULT_TCP_PORT_RANGE, PortRange
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from tests.unit.test_agent_with_fake_runtime import MemoryEtcd


@dataclass
class FakeProxy:
    """Serves whatever layout it is given, unless it would have to bind a port `taken` holds."""

    taken: set[int] = field(default_factory=set)  # ports another process holds on the "host"
    http_port: int = 8080
    layout: Layout = field(default_factory=Layout)
    probed: list[list[int]] = field(default_factory=list)

    def held_tcp_ports(self) -> frozenset[int]:
        return frozenset(self._listens(self.layout))

    def taken_ports(self, ports: Iterable[int]) -> frozenset[int]:
        wanted = list(ports)
        self.probed.append(wanted)
        return frozenset(port for port in wanted if port in self.taken)

    async def start(self, layout: Layout | None = None) -> None:
        if layout is not None:
            await FakeProxy.apply(self, layout)  # a start, which subclasses count no reload

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def stop(self) -> None:
        pass

    async def apply(self, layout: Layout) -> None:
        # As HAProxy does: one port it cannot bind fails the whole reload.
        if self._listens(layout) & self.taken:
            raise HaproxyError("cannot bind socket")
        self.layout = layout

    def read_stats(self, timeout: float) -> tuple[Layout, str]:
        # Only a header: HAProxy has served nothing yet.
        return self.layout, "# pxname,svname,status\n"

    def tcp_ports(self) -> set[int]:
        return self._listens(self.layout)

    @staticmethod
    def _listens(layout: Layout) -> set[int]:
        return {pool.listen_port for pool in layout.pools if pool.listen_port is not None}


JOBS = {
    "web": "containers: {app: {image: x, ports: ['80:3000']}}",
    "db": "containers: {app: {image: x, ports: ['5432']}}\n"
    "ingress: {tcp: [{port: 31000, targetPort: 5432}, {port: 31001, targetPort: 5432}]}",
    "ssh": "containers: {app: {image: x, ports: ['22']}}\n"
    "ingress: {tcp: [{port: 22, targetPort: 22}]}",
}


@pytest.fixture
def quick_reprobe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "REPROBE_SECONDS", 0.05)


@contextlib.asynccontextmanager
async def serving(
    proxy: FakeProxy,
    tcp_port_range: PortRange = DEFAULT_TCP_PORT_RANGE,
    etcd: MemoryEtcd | None = None,
) -> AsyncIterator[IngressController]:
    """A controller following mirrors of `etcd` (new if None), which gets `JOBS`, running
    for the block."""
    etcd = etcd or MemoryEtcd()
    for name, body in JOBS.items():
        record = JobRecord(spec=load_job(f"name: {name}\n{body}"), version=1)
        await etcd.put(keys.job(name), record.to_json())
    mirrors = ClusterStore(etcd).mirrors()  # type: ignore[arg-type]
    controller = IngressController(mirrors, proxy, tcp_port_range)
    tasks = [asyncio.create_task(mirror.run()) for mirror in mirrors.all()]
    tasks.append(asyncio.create_task(controller.run()))
    try:
        yield controller
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def eventually(condition: Callable[[], Any], what: str) -> None:
    async with asyncio.timeout(5):
        # Polled: the fake proxy signals nothing.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_a_taken_port_is_left_out_and_served_once_freed(quick_reprobe: None) -> None:
    proxy = FakeProxy(taken={31000})
    async with serving(proxy) as ingress:
        await eventually(lambda: proxy.tcp_ports() == {31001}, "31001 served, 31000 not")
        assert {pool.name for pool in proxy.layout.pools} >= {"http-web", "http-db"}
        conflicts = ingress.routes().conflicts
        assert "TCP port 31000 of job db is in use by another process on this node" in conflicts
        assert (
            "TCP port 22 of job ssh is outside the TCP ingress port range 30000-32767" in conflicts
        )
        assert [route.port for route in ingress.routes().tcp] == [31001]

        # Ports HAProxy holds are not probed (it would find them taken: by itself).
        probes = len(proxy.probed)
        await eventually(lambda: len(proxy.probed) > probes, "another look at 31000")
        assert proxy.probed[-1] == [31000]

        proxy.taken.clear()
        await eventually(lambda: proxy.tcp_ports() == {31000, 31001}, "31000 served once freed")
        assert not any("in use" in conflict for conflict in ingress.routes().conflicts)


async def test_without_a_taken_port_it_waits_for_changes_only(quick_reprobe: None) -> None:
    proxy = FakeProxy()
    # With a range of every port, ssh's 22 is served too.
    async with serving(proxy, (1, 65535)):
        await eventually(lambda: proxy.tcp_ports() == {22, 31000, 31001}, "every port served")
        probes = len(proxy.probed)
        await asyncio.sleep(0.2)  # four re-probe periods
        assert len(proxy.probed) == probes


async def test_a_port_taken_between_probe_and_bind_is_left_out_on_the_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(controller_module, "_RETRY_SECONDS", 0.01)
    proxy = FakeProxy()
    real_probe = proxy.taken_ports

    def probe_then_lose_31001(ports: Iterable[int]) -> frozenset[int]:
        found = real_probe(ports)
        proxy.taken.add(31001)  # another process binds it right after the look
        return found

    monkeypatch.setattr(proxy, "taken_ports", probe_then_lose_31001)
    async with serving(proxy):
        # The reload fails on 31001; the retry probes again and leaves it out.
        await eventually(lambda: proxy.tcp_ports() == {31000}, "31000 served despite 31001")


def ingress_up() -> float | None:
    return REGISTRY.get_sample_value("ozy_ingress_up")


async def test_scrapes_read_the_proxy_while_the_controller_runs() -> None:
    proxy = FakeProxy()
    assert ingress_up() is None
    async with serving(proxy):
        await eventually(lambda: proxy.tcp_ports() == {31000, 31001}, "db's ports served")
        assert ingress_up() == 1
        servers = {"job": "db", "state": "up"}
        assert REGISTRY.get_sample_value("ozy_ingress_servers", servers) == 0  # no instance yet
    assert ingress_up() is None  # unregistered: the next term registers its own


@dataclass
class CountingProxy(FakeProxy):
    """Counts the layouts it is given that change shape (each a reload of a real HAProxy)."""

    reloads: int = 0

    async def apply(self, layout: Layout) -> None:
        if layout.shape() != self.layout.shape():
            self.reloads += 1
        await super().apply(layout)


async def test_a_burst_of_new_jobs_is_one_reload_and_health_changes_none() -> None:
    proxy = CountingProxy()
    etcd = MemoryEtcd()
    async with serving(proxy, etcd=etcd):
        await eventually(lambda: proxy.tcp_ports() == {31000, 31001}, "the first jobs served")
        reloads = proxy.reloads
        for index in range(20):
            name = f"burst-{index}"
            record = JobRecord(spec=load_job(f"name: {name}\n{JOBS['web']}"), version=1)
            await etcd.put(keys.job(name), record.to_json())
            await asyncio.sleep(0.01)  # submits a little apart, as from a script
        pools = {f"http-burst-{index}" for index in range(20)}
        await eventually(
            lambda: pools <= {pool.name for pool in proxy.layout.pools}, "every new job served"
        )
        assert proxy.reloads - reloads == 1

        reloads = proxy.reloads
        status = InstanceStatus(
            job="burst-3",
            index=0,
            node="n1",
            state=InstanceState.RUNNING,
            health=Health.HEALTHY,
            pod_ip="10.213.1.10",
        )
        await etcd.put(keys.instance("burst-3", 0), status.to_json())
        await eventually(lambda: backends_of(proxy, "http-burst-3") == ["10.213.1.10"], "served")
        assert proxy.reloads == reloads


def backends_of(proxy: FakeProxy, pool_name: str) -> list[str]:
    pool = next(pool for pool in proxy.layout.pools if pool.name == pool_name)
    return [slot.address for slot in pool.slots if slot is not None]


@dataclass
class StartRecordingProxy(CountingProxy):
    """Records the layout each start is given; `refuse_first_start` fails the first one."""

    refuse_first_start: bool = False
    starts: list[Layout | None] = field(default_factory=list)

    async def start(self, layout: Layout | None = None) -> None:
        self.starts.append(layout)
        if self.refuse_first_start and len(self.starts) == 1:
            raise HaproxyError("config refused")
        await super().start(layout)


async def test_haproxy_starts_with_every_route_the_mirrors_hold_and_no_reload() -> None:
    proxy = StartRecordingProxy()
    async with serving(proxy):
        await eventually(lambda: proxy.tcp_ports() == {31000, 31001}, "db's ports served")
        await asyncio.sleep(0.3)  # longer than a reload waits for the jobs to hold still
        first = proxy.starts[0]
        assert first is not None
        pools = {"http-web", "http-db", "http-ssh", "tcp-31000", "tcp-31001"}
        assert {pool.name for pool in first.pools} == pools
        assert len(proxy.starts) == 1 and proxy.reloads == 0


async def test_a_refused_first_start_starts_with_no_routes_then_serves_them() -> None:
    proxy = StartRecordingProxy(refuse_first_start=True)
    async with serving(proxy):
        await eventually(lambda: proxy.tcp_ports() == {31000, 31001}, "db's ports served")
        assert proxy.starts[1] is None
