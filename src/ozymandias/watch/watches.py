"""A node's watch hubs: each started on its first subscriber, and kept.

A node nobody watches does no work for watches: not even the events mirror,
which only watches need, runs until someone watches events. Once started,
a hub follows its mirrors for the node's life (a second watcher then costs
only its own stream). `close` ends every stream, so the API server's
shutdown does not wait on clients that would read for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from ozymandias.cluster.records import Event
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import Mirror
from ozymandias.watch.feeds import (
    EVENT,
    INSTANCE,
    JOB,
    NODE,
    event_feed,
    instance_feed,
    job_feed,
    node_feed,
)
from ozymandias.watch.hub import Feed, Hub, HubSettings


class WatchesClosed(Exception):
    """The node is stopping: no new stream."""


class Watches:
    def __init__(
        self,
        mirrors: ClusterMirrors,
        events_mirror: Callable[[], Mirror[Event]],
        settings: HubSettings | None = None,
    ) -> None:
        self._mirrors = mirrors
        self._new_events_mirror = events_mirror
        self._events: Mirror[Event] | None = None
        self._settings = settings or HubSettings()
        self._hubs: dict[str, Hub] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    def hub(self, kind: str, feed: Callable[[ClusterMirrors], Feed] | None = None) -> Hub:
        """The hub of `kind`, started if it was not (or if it failed); `feed` makes the feed of a
        kind of another API's (kube_api/'s Deployments), else it is one of feeds.py's."""
        if self._closed:
            raise WatchesClosed("the node is stopping")
        hub = self._hubs.get(kind)
        if hub is None or hub.ended:
            hub = Hub(feed(self._mirrors) if feed else self._feed(kind), self._settings)
            self._hubs[kind] = hub
            self._tasks.append(asyncio.create_task(hub.run(), name=f"watch-{kind}"))
        return hub

    async def close(self) -> None:
        """End every stream and stop following (the node stops)."""
        self._closed = True
        for hub in self._hubs.values():
            hub.end()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _feed(self, kind: str) -> Feed:
        mirrors = self._mirrors
        if kind == INSTANCE:
            return instance_feed(mirrors)
        if kind == JOB:
            return job_feed(mirrors)
        if kind == NODE:
            return node_feed(mirrors)
        assert kind == EVENT, kind
        if self._events is None:
            self._events = self._new_events_mirror()
            self._tasks.append(asyncio.create_task(self._events.run(), name="events-mirror"))
        return event_feed(self._events, self._events.wait_synced, mirrors)
