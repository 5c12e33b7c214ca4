"""The ingress controller: follows the cluster state and keeps the node's HAProxy in step.

When a job or an instance status changes, which is how health changes
arrive, it recomputes the routes of the jobs whose keys changed (the mirrors'
change log says which; `route_table.py`, pure), and hands HAProxy the new
layout at once: a health change reaches the proxy within one etcd watch event
and one runtime API call, well under a second, at any number of jobs. A
change of shape (a job, host or TCP port added or removed) reloads HAProxy,
so it first waits for the jobs to hold still a moment: a burst of new jobs
is one reload, not one per job. Routes are the same on every node, computed
from the same mirrors, so no node needs to know where an instance runs.

Two things are the node's own, and left out of what it serves (and reported
as conflicts): TCP ports outside the node's TCP ingress port range (the API
refuses them; this is for any already in etcd), and TCP ports another
process holds on this host. HAProxy fails a whole reload on one failed bind,
so each TCP port it does not hold yet is probed first, and one taken port
never holds back the other routes. Taken ports are probed again every few
seconds, so a route appears once its port is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Protocol

from ozymandias.ingress.haproxy import HaproxyError
from ozymandias.ingress.haproxy_config import (
    Layout,
    http_pool_name,
    plan_layout,
    tcp_pool_name,
    with_backends,
)
from ozymandias.ingress.port_range import DEFAULT_TCP_PORT_RANGE, PortRange
from ozymandias.ingress.route_table import RouteTable
from ozymandias.ingress.routes import Routes, leave_out_taken, ports_to_probe
from ozymandias.metrics.families import registered
from ozymandias.metrics.ingress import IngressCollector
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import any_changed
from ozymandias.store.watch_sources import changed_groups, route_sources

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
_START_RETRY_MAX_SECONDS = 30.0
# How soon a TCP port another process holds is looked at again.
REPROBE_SECONDS = 5.0
# Before a reload, how long the jobs must stay unchanged (a burst of submits is
# one reload), and the longest a reload waits for that.
SHAPE_QUIET_SECONDS = 0.2
SHAPE_WAIT_MAX_SECONDS = 2.0


class Proxy(Protocol):
    """What the controller needs of the proxy: `haproxy.Haproxy`, or a fake in tests."""

    @property
    def http_port(self) -> int: ...

    @property
    def layout(self) -> Layout: ...

    def held_tcp_ports(self) -> frozenset[int]: ...

    def taken_ports(self, ports: Iterable[int]) -> frozenset[int]: ...

    async def start(self, layout: Layout | None = None) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    async def apply(self, layout: Layout) -> None: ...

    def read_stats(self, timeout: float) -> tuple[Layout, str]: ...


class IngressController:
    def __init__(
        self,
        mirrors: ClusterMirrors,
        haproxy: Proxy,
        tcp_port_range: PortRange = DEFAULT_TCP_PORT_RANGE,
    ) -> None:
        self._mirrors = mirrors
        self._haproxy = haproxy
        self._tcp_port_range = tcp_port_range
        # TCP ports another process held at the last look, left out of what HAProxy serves.
        self._taken: frozenset[int] = frozenset()
        self._table = RouteTable({haproxy.http_port}, tcp_port_range)
        self._sources = route_sources(mirrors)
        # The followed mirrors' revisions the table reflects (None: not filled yet).
        self._seen: list[int] | None = None

    @property
    def tcp_port_range(self) -> PortRange:
        """The range this node's TCP ingress ports must lie in: the API checks jobs against it."""
        return self._tcp_port_range

    def routes(self) -> Routes:
        """The routes this node serves, as its mirrors have them now (for the API)."""
        self._catch_up()
        return leave_out_taken(self._table.routes(), self._taken)

    def _catch_up(self) -> None:
        """Bring the table up to date with the mirrors: the jobs whose keys changed."""
        revisions = [source.mirror.revision for source in self._sources]
        if revisions == self._seen:
            return
        changed = None if self._seen is None else changed_groups(self._sources, self._seen)
        if changed is None:
            # First pass, or a mirror scanned again: it may have changed anything.
            changed = self._table.jobs() | {
                record.spec.name for record in self._mirrors.jobs.items.values()
            }
        for job in changed:
            record = self._mirrors.job(job)
            spec = None if record is None else record.spec
            self._table.update(job, spec, self._mirrors.instance_statuses(job))
        self._seen = revisions

    async def run(self) -> None:
        """Start HAProxy, keep it serving the current routes, and stop it when cancelled.

        Meanwhile, scrapes read its statistics (`metrics/ingress.py`): registered
        for as long as this part runs, which is one term of membership.
        """
        with registered(IngressCollector(self._haproxy)):
            # From the start, so a scrape while HAProxy starts says `ozy_ingress_up 0`.
            await self._mirrors.jobs.wait_synced()
            await self._mirrors.instances.wait_synced()
            await self._start_haproxy(self._first_layout())
            supervisor = asyncio.create_task(self._haproxy.run())
            try:
                await self._follow()
            finally:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
                await self._haproxy.stop()

    def _first_layout(self) -> Layout:
        """The layout of the routes the synced mirrors hold, for HAProxy's first start."""
        started = time.perf_counter()
        self._catch_up()
        wanted = self._table.routes()
        self._taken = self._haproxy.taken_ports(ports_to_probe(wanted, frozenset()))
        layout = plan_layout(leave_out_taken(wanted, self._taken))
        log.debug(
            "ingress: %d pools planned from the mirrors in %.2fs",
            len(layout.pools),
            time.perf_counter() - started,
        )
        return layout

    async def _start_haproxy(self, layout: Layout) -> None:
        """Start HAProxy serving `layout`; if it will not, with no routes (following then
        retries them as it would any), retrying with back-off: ingress trouble must not
        take the node down."""
        try:
            await self._haproxy.start(layout)
            return
        except HaproxyError as error:
            log.error("ingress: HAProxy did not start with the routes: %s", error)
        delay = _RETRY_SECONDS
        while True:
            try:
                await self._haproxy.start()
                return
            except HaproxyError as error:
                log.error("ingress: HAProxy did not start (retrying in %.0fs): %s", delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _START_RETRY_MAX_SECONDS)

    async def _follow(self) -> None:
        applied: Routes | None = None
        settled = False
        # Whether the next pass must plan every route (a shape change, or the first pass)
        # rather than move the changed jobs' backends only.
        full_pass_due = True
        while True:
            jobs_revision = self._mirrors.jobs.revision
            instances_revision = self._mirrors.instances.revision
            self._catch_up()
            changes = self._table.take_changes()
            full_pass_due = full_pass_due or not changes.backends_only or bool(self._taken)
            if not full_pass_due:
                if await self._apply_backends(changes.jobs):
                    await self._wait(jobs_revision, instances_revision)
                    continue
                full_pass_due = True
            wanted = self._table.routes()
            held = self._haproxy.held_tcp_ports()
            self._taken = self._haproxy.taken_ports(ports_to_probe(wanted, held))
            routes = leave_out_taken(wanted, self._taken)
            if routes != applied:
                layout = plan_layout(routes, self._haproxy.layout)
                if not settled and layout.shape() != self._haproxy.layout.shape():
                    # A reload: take the rest of a burst of job changes with it.
                    await self._jobs_quiet()
                    settled = True
                    continue
                settled = False
                if applied is None or routes.conflicts != applied.conflicts:
                    for conflict in routes.conflicts:
                        log.warning("ingress: %s", conflict)
                try:
                    await self._haproxy.apply(layout)
                    applied = routes
                except HaproxyError as error:
                    log.error("ingress: could not apply the routes (retrying): %s", error)
                    await asyncio.sleep(_RETRY_SECONDS)
                    continue
            settled = False
            full_pass_due = False
            await self._wait(jobs_revision, instances_revision)

    async def _apply_backends(self, jobs: Iterable[str]) -> bool:
        """Move the backends of `jobs` in HAProxy's layout, by runtime commands: what a
        health change needs, at a cost that does not grow with the other jobs. False if
        that is not enough (a pool outgrew its slots) or HAProxy refused."""
        backends = {}
        for job in jobs:
            http, tcp = self._table.job_routes(job)
            if http is not None:
                backends[http_pool_name(job)] = http.backends
            for route in tcp:
                backends[tcp_pool_name(route.port)] = route.backends
        layout = with_backends(self._haproxy.layout, backends)
        if layout is None:
            return False
        try:
            await self._haproxy.apply(layout)
        except HaproxyError as error:
            log.error("ingress: could not apply a health change (retrying): %s", error)
            return False
        return True

    async def _wait(self, jobs_revision: int, instances_revision: int) -> None:
        await any_changed(
            [
                (self._mirrors.jobs, jobs_revision),
                (self._mirrors.instances, instances_revision),
            ],
            at_most=REPROBE_SECONDS if self._taken else None,
        )

    async def _jobs_quiet(self) -> None:
        """Return once no job changed for `SHAPE_QUIET_SECONDS`, or after at most
        `SHAPE_WAIT_MAX_SECONDS`: health changes wait that long during a burst."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHAPE_WAIT_MAX_SECONDS
        while (left := deadline - loop.time()) > 0:
            revision = self._mirrors.jobs.revision
            await any_changed(
                [(self._mirrors.jobs, revision)], at_most=min(SHAPE_QUIET_SECONDS, left)
            )
            if self._mirrors.jobs.revision == revision:
                return
