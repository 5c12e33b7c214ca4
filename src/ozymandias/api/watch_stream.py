"""`?watch=true` on the list endpoints: their changes as server-sent events.

A stream starts with the whole list as ADDED events and one BOOKMARK
(`"initial": true`), then sends each change as it happens; with a
`Last-Event-ID` it sends only the changes after that revision, or RELIST
and the whole list again when the node no longer remembers that far back
(see watch/history.py). A `: keepalive` comment every 15 s keeps proxies
from closing an idle stream. The streams open at once on a node are
bounded (`ozy node run --api-max-watches`, 429 past it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ozymandias.api.problems import Problem
from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.server import ABORT_EXTENSION
from ozymandias.watch import sse
from ozymandias.watch.hub import Hub, Subscription
from ozymandias.watch.watches import Watches, WatchesClosed

KEEPALIVE_SECONDS = 15.0
# Messages sent in one write while a new watcher is sent the whole list.
_CHUNK_MESSAGES = 200

Watch = Annotated[
    bool,
    Query(
        description="Answer text/event-stream: the list as ADDED events, a BOOKMARK, then "
        "each change (ADDED, MODIFIED, DELETED; RELIST: list again) as it happens."
    ),
]
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=19,
        pattern=r"^[0-9]+$",
        description="With watch: resume after this revision (the last event's id).",
    ),
]

WATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The list; with watch=true, a stream of server-sent events.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}

Wanted = Callable[[dict[str, Any]], bool]


def everything(_: dict[str, Any]) -> bool:
    return True


class WatchStreams:
    """How many watch streams this node serves, bounded by `max_watches`."""

    def __init__(self, watches: Watches, limits: ApiLimits) -> None:
        self.watches = watches
        self._most = limits.max_watches
        self._open = 0

    def reserve(self) -> Callable[[], None]:
        """Count one more stream (another API's: the Kubernetes API's watches share the bound);
        returns what gives its place back. 429 past the limit."""
        self._check()
        self._open += 1
        return self._closed

    def open(
        self,
        request: Request,
        kind: str,
        last_event_id: str | None,
        wanted: Wanted = everything,
        initial_limit: int | None = None,
    ) -> StreamingResponse:
        """The stream of `kind`'s changes that `wanted` keeps; 429 past the limit."""
        self._check()
        try:
            hub = self.watches.hub(kind)
        except WatchesClosed as error:
            raise Problem(503, "node-stopping", "Node stopping", str(error)) from None
        since = int(last_event_id) if last_event_id is not None else None
        abort = request.scope.get("extensions", {}).get(ABORT_EXTENSION, _nothing)
        self._open += 1
        return _CountedStream(_stream(hub, kind, since, wanted, initial_limit, abort), self._closed)

    def _check(self) -> None:
        if self._open >= self._most:
            raise Problem(
                429,
                "too-many-requests",
                "Too many watch streams",
                f"this node already serves {self._most} watch streams "
                "(ozy node run --api-max-watches); retry once one ends",
                limit="api-max-watches",
            )

    @property
    def open_streams(self) -> int:
        return self._open

    def _closed(self) -> None:
        self._open -= 1


def _nothing() -> None:
    """Without the server's hook (a test client), a dropped stream ends at its next write."""


class _CountedStream(StreamingResponse):
    """An event stream that gives its place back however it ends (even never started)."""

    def __init__(self, stream: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _stream(
    hub: Hub,
    kind: str,
    since: int | None,
    wanted: Wanted,
    initial_limit: int | None,
    abort: Callable[[], None],
) -> AsyncIterator[bytes]:
    subscription, start = await hub.subscribe(since, abort)
    try:
        if start.relist:
            yield sse.relist(kind, start.revision)
        if start.snapshot is not None:
            initial = [change for change in start.snapshot if wanted(change.object)]
            if initial_limit is not None:
                initial = initial[-initial_limit:]
            for first in range(0, len(initial), _CHUNK_MESSAGES):
                chunk = initial[first : first + _CHUNK_MESSAGES]
                yield b"".join(sse.change_message(kind, start.revision, c) for c in chunk)
            yield sse.bookmark(kind, start.revision)
        for batch in start.batches:
            if frames := _frames(kind, batch.revision, batch.changes, wanted):
                yield frames
        # A client from a node further ahead already has what this one sends up to `since`.
        seen = since if since is not None and since > start.revision else 0
        async for frames in _changes(subscription, kind, wanted, seen):
            yield frames
    finally:
        hub.unsubscribe(subscription)


async def _changes(
    subscription: Subscription, kind: str, wanted: Wanted, seen: int
) -> AsyncIterator[bytes]:
    """The subscription's batches as events, with keepalives, until it ends or is dropped."""
    while True:
        try:
            async with asyncio.timeout(KEEPALIVE_SECONDS):
                batch = await subscription.queue.get()
        except TimeoutError:
            yield sse.KEEPALIVE
            continue
        if batch is None or subscription.dropped:
            return
        if batch.revision <= seen:
            continue
        if frames := _frames(kind, batch.revision, batch.changes, wanted):
            yield frames


def _frames(kind: str, revision: int, changes: Any, wanted: Wanted) -> bytes:
    return b"".join(sse.change_message(kind, revision, c) for c in changes if wanted(c.object))
