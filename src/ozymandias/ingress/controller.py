"""The ingress controller: follows the cluster state and keeps the node's HAProxy in step.

It recomputes the routes (pure, `routes.py`) whenever a job or an instance
status changes, which is how health changes arrive, and hands HAProxy the new
layout at once: a health change reaches the proxy within one etcd watch event
and one runtime API call, well under a second. Routes are the same on every
node, computed from the same mirrors, so no node needs to know where an
instance runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ozymandias.ingress.haproxy import Haproxy, HaproxyError
from ozymandias.ingress.haproxy_config import plan_layout
from ozymandias.ingress.routes import Routes, compute_routes
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import any_changed

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
_START_RETRY_MAX_SECONDS = 30.0


def current_routes(mirrors: ClusterMirrors, http_port: int) -> Routes:
    """The routes as this node's mirrors have them."""
    return compute_routes(
        (record.spec for record in mirrors.jobs.items.values()),
        mirrors.instance_statuses(),
        reserved_ports={http_port},
    )


class IngressController:
    def __init__(self, mirrors: ClusterMirrors, haproxy: Haproxy) -> None:
        self._mirrors = mirrors
        self._haproxy = haproxy

    async def run(self) -> None:
        """Start HAProxy, keep it serving the current routes, and stop it when cancelled."""
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
            routes = current_routes(self._mirrors, self._haproxy.http_port)
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
                ]
            )
