"""The ingress controller: follows the cluster state and keeps the node's HAProxy in step.

It recomputes the routes (pure, `routes.py`) whenever a job or an instance
status changes, which is how health changes arrive, and hands HAProxy the new
layout at once: a health change reaches the proxy within one etcd watch event
and one runtime API call, well under a second. Routes are the same on every
node, computed from the same mirrors, so no node needs to know where an
instance runs.

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
from collections.abc import Iterable
from typing import Protocol

from ozymandias.ingress.haproxy import HaproxyError
from ozymandias.ingress.haproxy_config import Layout, plan_layout
from ozymandias.ingress.port_range import DEFAULT_TCP_PORT_RANGE, PortRange
from ozymandias.ingress.routes import Routes, compute_routes, leave_out_taken, ports_to_probe
from ozymandias.metrics.families import registered
from ozymandias.metrics.ingress import IngressCollector
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import any_changed

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
_START_RETRY_MAX_SECONDS = 30.0
# How soon a TCP port another process holds is looked at again.
REPROBE_SECONDS = 5.0


class Proxy(Protocol):
    """What the controller needs of the proxy: `haproxy.Haproxy`, or a fake in tests."""

    @property
    def http_port(self) -> int: ...

    @property
    def layout(self) -> Layout: ...

    def held_tcp_ports(self) -> frozenset[int]: ...

    def taken_ports(self, ports: Iterable[int]) -> frozenset[int]: ...

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...

    async def apply(self, layout: Layout) -> None: ...

    def read_stats(self, timeout: float) -> tuple[Layout, str]: ...


def current_routes(
    mirrors: ClusterMirrors, http_port: int, tcp_port_range: PortRange | None = None
) -> Routes:
    """The routes as this node's mirrors have them."""
    return compute_routes(
        (record.spec for record in mirrors.jobs.items.values()),
        mirrors.instance_statuses(),
        reserved_ports={http_port},
        tcp_port_range=tcp_port_range,
    )


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

    @property
    def tcp_port_range(self) -> PortRange:
        """The range this node's TCP ingress ports must lie in: the API checks jobs against it."""
        return self._tcp_port_range

    def routes(self) -> Routes:
        """The routes this node serves, as its mirrors have them now (for the API)."""
        return leave_out_taken(self._wanted_routes(), self._taken)

    def _wanted_routes(self) -> Routes:
        return current_routes(self._mirrors, self._haproxy.http_port, self._tcp_port_range)

    async def run(self) -> None:
        """Start HAProxy, keep it serving the current routes, and stop it when cancelled.

        Meanwhile, scrapes read its statistics (`metrics/ingress.py`): registered
        for as long as this part runs, which is one term of membership.
        """
        with registered(IngressCollector(self._haproxy)):
            # From the start, so a scrape while HAProxy starts says `ozy_ingress_up 0`.
            await self._mirrors.jobs.wait_synced()
            await self._mirrors.instances.wait_synced()
            await self._start_haproxy()
            supervisor = asyncio.create_task(self._haproxy.run())
            try:
                await self._follow()
            finally:
                supervisor.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await supervisor
                await self._haproxy.stop()

    async def _start_haproxy(self) -> None:
        """Start HAProxy, retrying with back-off: ingress trouble must not take the node down."""
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
        while True:
            jobs_revision = self._mirrors.jobs.revision
            instances_revision = self._mirrors.instances.revision
            wanted = self._wanted_routes()
            held = self._haproxy.held_tcp_ports()
            self._taken = self._haproxy.taken_ports(ports_to_probe(wanted, held))
            routes = leave_out_taken(wanted, self._taken)
            if routes != applied:
                if applied is None or routes.conflicts != applied.conflicts:
                    for conflict in routes.conflicts:
                        log.warning("ingress: %s", conflict)
                try:
                    await self._haproxy.apply(plan_layout(routes, self._haproxy.layout))
                    applied = routes
                except HaproxyError as error:
                    log.error("ingress: could not apply the routes (retrying): %s", error)
                    await asyncio.sleep(_RETRY_SECONDS)
                    continue
            await any_changed(
                [
                    (self._mirrors.jobs, jobs_revision),
                    (self._mirrors.instances, instances_revision),
                ],
                at_most=REPROBE_SECONDS if self._taken else None,
            )
