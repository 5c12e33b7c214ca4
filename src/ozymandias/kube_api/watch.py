"""`?watch=1` on the Kubernetes list endpoints: chunked JSON lines of changes.

Each line is `{"type": "ADDED|MODIFIED|DELETED|ERROR", "object": {...}}`,
as the apiserver streams them. The changes come from the node's watch hubs
(watch/hub.py), the same that serve the ozy API's streams: nothing here
watches etcd again. A hub says which object changed (a pod, a node, a job);
its Kubernetes object is built from the mirrors at that moment, and the last
one sent of each name stands for it when it is deleted.

resourceVersion is an etcd revision, the hub's: a list is labelled with the
revision its kind's hub has reached (see `list_revision`), so a watch from it
misses nothing (it may see a change the list already showed, which is
harmless). Without one (or "0"), the stream starts with every object as
ADDED. A revision older than the hub remembers is an ERROR event with a 410
Expired Status; kubectl then lists again.

With `as=Table` (kubectl get -w), each event's object is a Table of one row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ozymandias.api.problems import Problem
from ozymandias.api.server import ABORT_EXTENSION
from ozymandias.api.services import ApiServices
from ozymandias.kube.status import bad_request, expired
from ozymandias.kube_api.negotiation import IncludeObject
from ozymandias.kube_api.selection import Selection
from ozymandias.kube_api.tabulation import table_of
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.watch.changes import Change, ChangeType
from ozymandias.watch.hub import Feed, Hub, Subscription
from ozymandias.watch.watches import WatchesClosed

MAX_TIMEOUT_SECONDS = 24 * 3600

Build = Callable[[Change], dict[str, Any] | None]
"""The Kubernetes object a hub's change stands for now (None: it is gone already)."""


@dataclass(frozen=True)
class WatchRequest:
    selection: Selection
    resource_version: str | None
    timeout_seconds: int | None
    table: IncludeObject | None
    """None: objects as they are; else Tables of one row, their rows carrying this."""


def hub_of(
    services: ApiServices, kind: str, feed: Callable[[ClusterMirrors], Feed] | None = None
) -> Hub:
    try:
        return services.watches.watches.hub(kind, feed)
    except WatchesClosed as error:
        raise Problem(503, "node-stopping", "Node stopping", str(error)) from None


async def snapshot(
    services: ApiServices, kind: str, feed: Callable[[ClusterMirrors], Feed] | None = None
) -> tuple[int, list[Change]]:
    """Every object of `kind` as its hub holds it, and the revision it holds them at.

    A list is this: the hub is started by the first list, so the watch kubectl sends
    next, from this revision, finds it with every change since.
    """
    hub = hub_of(services, kind, feed)
    subscription, start = await hub.subscribe(None, _nothing)
    hub.unsubscribe(subscription)
    return start.revision, list(start.snapshot or ())


def since_revision(resource_version: str | None) -> int | None:
    """The revision a watch resumes after; None: from a fresh list of everything."""
    if resource_version in (None, "", "0"):
        return None
    assert resource_version is not None
    if not resource_version.isdigit():
        raise bad_request(f"resourceVersion {resource_version!r} is not an etcd revision")
    return int(resource_version)


def open_watch(
    request: Request,
    services: ApiServices,
    kind: str,
    build: Build,
    wanted: WatchRequest,
    feed: Callable[[ClusterMirrors], Feed] | None = None,
) -> StreamingResponse:
    """The stream of `kind`'s changes `wanted` selects; 429 past `--api-max-watches`."""
    since = since_revision(wanted.resource_version)
    hub = hub_of(services, kind, feed)
    release = services.watches.reserve()
    abort = request.scope.get("extensions", {}).get(ABORT_EXTENSION, _nothing)
    return _Stream(_events(hub, since, build, wanted, abort), release)


def _nothing() -> None:
    """Without the server's hook (a test client), a dropped stream ends at its next write."""


class _Stream(StreamingResponse):
    """A JSON watch stream that gives its place back however it ends."""

    def __init__(self, stream: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(stream, media_type="application/json")
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def event_line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


class EventLines:
    """Turns a hub's changes into event lines, remembering what each name last was."""

    def __init__(self, build: Build, wanted: WatchRequest) -> None:
        self._build = build
        self._wanted = wanted
        self._sent: dict[str, dict[str, Any]] = {}

    def lines(self, changes: Any, revision: int) -> bytes:
        out = [self._line(change, revision) for change in changes]
        return b"".join(line for line in out if line)

    def _line(self, change: Change, revision: int) -> bytes:
        if change.type is ChangeType.DELETED:
            obj = self._sent.pop(change.name, None) or self._build(change)
            if obj is None:
                return b""
        else:
            built = self._build(change)
            if built is None:
                return b""
            obj = built
        obj = _at_revision(obj, revision)
        if not self._wanted.selection.wants(obj):
            # It no longer matches: to this watcher, it is gone.
            if change.type is not ChangeType.DELETED and self._sent.pop(change.name, {}):
                return self._framed(ChangeType.DELETED.value, obj)
            return b""
        kind = change.type.value
        if change.type is not ChangeType.DELETED:
            kind = ChangeType.MODIFIED.value if change.name in self._sent else "ADDED"
            self._sent[change.name] = obj
        return self._framed(kind, obj)

    def _framed(self, kind: str, obj: dict[str, Any]) -> bytes:
        include = self._wanted.table
        if include is not None:
            version = obj["metadata"]["resourceVersion"]
            return event_line(kind, table_of(obj["kind"], [obj], include, version))
        return event_line(kind, obj)


def _at_revision(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    """`obj` labelled with the revision its change was seen at: a watch resumed from it
    misses nothing."""
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}


async def _events(
    hub: Hub, since: int | None, build: Build, wanted: WatchRequest, abort: Callable[[], None]
) -> AsyncIterator[bytes]:
    subscription, start = await hub.subscribe(since, abort)
    sender = EventLines(build, wanted)
    try:
        if start.relist:
            message = f"too old resource version: {since} ({start.revision})"
            yield event_line("ERROR", expired(message).status)
            return
        if start.snapshot is not None and (lines := sender.lines(start.snapshot, start.revision)):
            yield lines
        for batch in start.batches:
            if lines := sender.lines(batch.changes, batch.revision):
                yield lines
        seen = since if since is not None and since > start.revision else 0
        seconds = min(wanted.timeout_seconds or MAX_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)
        async for lines in _followed(subscription, sender, seen, seconds):
            yield lines
    finally:
        hub.unsubscribe(subscription)


async def _followed(
    subscription: Subscription, sender: EventLines, seen: int, seconds: float
) -> AsyncIterator[bytes]:
    """The subscription's batches as event lines, until it ends, is dropped, or `seconds`
    (the request's timeoutSeconds) pass: then the watch ends cleanly, as the apiserver's."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            batch = await asyncio.wait_for(subscription.queue.get(), remaining)
        except TimeoutError:
            return
        if batch is None or subscription.dropped:
            return
        if batch.revision > seen and (lines := sender.lines(batch.changes, batch.revision)):
            yield lines
