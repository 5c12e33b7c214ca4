"""What any one client may ask of a node: a bounded body, sent in bounded time, and a fair share.

An ASGI middleware in front of the whole API. It reads each request's body
itself, before any handler runs, so that:

- a body past `max_body_bytes` is refused with a 413 as soon as it says so
  (Content-Length) or grows past it, and is never held whole;
- a client too slow to send its body (one byte a second) is cut off with a
  408 after `body_seconds`; while it sends, it holds only its connection,
  never a place among the requests in flight;
- past `max_in_flight` requests being handled at once, a request is refused
  with a 429 and `Retry-After`, so a crowd of clients cannot queue work
  without bound behind one another. A request counts until its response
  starts: a followed log that streams for hours holds no place (followed
  logs have their own bound, `max_follows`: see `Follows`);
- a client that goes away before its body is whole has nothing handled:
  a spec cut short may still parse, as a spec nobody sent.

The health and peer routes are never refused for load: a node must always
be able to say it is alive, and peers ask the peer route while etcd is out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ozymandias.api.auth import HEALTH_PATH
from ozymandias.api.peer import ETCD_CONTACT_PATH
from ozymandias.api.problems import Problem, problem_response

_ALWAYS_ANSWERED = frozenset({HEALTH_PATH, ETCD_CONTACT_PATH})


@dataclass(frozen=True)
class ApiLimits:
    """The API's limits; each is an `ozy node run` flag."""

    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted (413 past it)."""
    max_in_flight: int = 256
    """Requests handled at once (429 past it)."""
    body_seconds: float = 10.0
    """Time a client has to send its request's body (408 past it)."""
    header_seconds: float = 10.0
    """Time a client has to send a request's line and headers (then the connection closes)."""
    max_follows: int = 64
    """Logs followed and commands run (`ozy exec`) at once through this node (429 past it)."""
    max_watches: int = 256
    """Watch streams (`?watch=true`) open at once on this node (429 past it)."""


class Follows:
    """How many logs are being followed, and commands run, through this node, bounded by
    `max_follows`.

    Each holds a podman stream (or a peer's) for as long as its client reads,
    which may be hours, so they are counted apart from the requests in flight,
    which they would otherwise fill.
    """

    def __init__(self, limits: ApiLimits) -> None:
        self._most = limits.max_follows
        self._following = 0

    def begin(self) -> None:
        """Count one more stream, or refuse it with a 429 if there are enough."""
        if self._following >= self._most:
            raise Problem(
                429,
                "too-many-requests",
                "Too many streams",
                f"this node already streams {self._most} followed logs and commands' output "
                "(ozy node run --api-max-follows); retry once one ends",
                limit="api-max-follows",
            )
        self._following += 1

    def end(self) -> None:
        self._following -= 1

    async def counted(self, stream: AsyncIterable[Any]) -> AsyncIterator[Any]:
        """`stream`, counted (`begin` was called) until it ends or its client leaves."""
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self.end()


class _TooLarge(Exception):
    pass


class RequestLimits:
    """The middleware: see the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        limits: ApiLimits,
        render: Callable[[Problem], Response] = problem_response,
    ) -> None:
        self._app = app
        self._limits = limits
        # How a refusal is worded: problem+json here, a Status for the Kubernetes API.
        self._render = render
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limits = self._limits
        declared = _content_length(scope)
        if declared is not None and declared > limits.max_body_bytes:
            await self._refuse(scope, receive, send, _too_large(limits, declared))
            return
        try:
            async with asyncio.timeout(limits.body_seconds):
                body = await _read_body(receive, limits.max_body_bytes)
            if body is None:
                return  # the client left: nobody to answer
        except _TooLarge:
            await self._refuse(scope, receive, send, _too_large(limits, None))
            return
        except TimeoutError:
            problem = Problem(
                408,
                "request-timeout",
                "Request body too slow",
                f"the request body did not arrive within {limits.body_seconds:g}s "
                "(ozy node run --api-body-timeout)",
                limit="api-body-timeout",
            )
            await self._refuse(scope, receive, send, problem)
            return
        if self._in_flight >= limits.max_in_flight and scope["path"] not in _ALWAYS_ANSWERED:
            problem = Problem(
                429,
                "too-many-requests",
                "Too many requests",
                f"this node is already handling {limits.max_in_flight} requests "
                "(ozy node run --api-max-in-flight); retry in a second",
                limit="api-max-in-flight",
            )
            await self._refuse(scope, receive, send, problem, retry_after=1)
            return
        self._in_flight += 1
        counted = True

        def done() -> None:
            nonlocal counted
            if counted:
                counted = False
                self._in_flight -= 1

        async def send_and_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                done()
            await send(message)

        try:
            await self._app(scope, _replay(body, receive), send_and_release)
        finally:
            done()

    async def _refuse(
        self,
        scope: Scope, receive: Receive, send: Send, problem: Problem, retry_after: int = 0
    ) -> None:
        response = self._render(problem)
        # The client may still be sending a body nobody reads: close after answering.
        response.headers["Connection"] = "close"
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        await response(scope, receive, send)


def _too_large(limits: ApiLimits, declared: int | None) -> Problem:
    size = f" ({declared} bytes)" if declared is not None else ""
    return Problem(
        413,
        "body-too-large",
        "Request body too large",
        f"the request body{size} is larger than the limit of {limits.max_body_bytes} bytes "
        "(ozy node run --api-max-body)",
        limit="api-max-body",
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body (None if the client left first), refused once it grows past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the handler the body already read, then the client's own."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
