"""The HTTP server the API runs in: uvicorn, with the node's signals and a deadline for headers.

uvicorn closes an idle keep-alive connection, but waits forever for a
request's line and headers once a client has opened a connection (or sent
its first byte). A client trickling headers a byte a second would hold its
connection for good, and enough of them would exhaust the node's file
descriptors. So each request must arrive whole within `header_seconds`;
the body has its own deadline (see request_limits.py).

With TLS, asyncio completes the handshake before the protocol sees the
connection (and gives up on a handshake after 60 seconds), so the header
deadline counts from the first byte of HTTP, as without TLS.

A request's scope also carries a way to cut its connection (`ABORT_EXTENSION`):
a watch stream whose client stopped reading is waiting on a write that
will never drain, and only aborting the connection frees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ozymandias.api.request_limits import ApiLimits
from ozymandias.tls.contexts import server_context
from ozymandias.tls.settings import ServerTls

ABORT_EXTENSION = "ozy.abort_connection"
"""Key in a request scope's "extensions": a callable that drops the connection at once."""


class _HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request is too slow to arrive."""

    header_seconds = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        # A new cycle means a request's headers arrived whole: it is in time.
        if self.cycle is not None and self.cycle is not self._timed_cycle:
            self._timed_cycle = self.cycle
            self._disarm()
            # Its app has not run yet (its task only starts on the loop's next turn).
            extensions: dict[str, Any] = self.cycle.scope.setdefault("extensions", {})
            extensions[ABORT_EXTENSION] = self.transport.abort

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request already read has begun its own cycle, and is in time.
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class ApiServer(uvicorn.Server):
    """uvicorn, minus its signal handling: the node daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def api_server(
    app: Any, host: str, port: int, limits: ApiLimits, tls: ServerTls | None = None
) -> ApiServer:
    """The server for `app` on host:port, with `limits`' header deadline; HTTPS with `tls`.

    ValueError if `tls` names files that are not a certificate and its key.
    """
    protocol = type("HeaderDeadline", (_HeaderDeadline,), {"header_seconds": limits.header_seconds})
    context = server_context(tls) if tls is not None else None
    return ApiServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            http=protocol,
            # Its records go to the daemon's handler (logs/setup.py), which shows its
            # request and start-up lines at DEBUG only.
            log_config=None,
            lifespan="off",
            ssl_context_factory=_given(context) if context is not None else None,
        )
    )


def _given(
    context: ssl.SSLContext,
) -> Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext]:
    """uvicorn's hook for a context of one's own: ours requires TLS 1.2 and client certificates
    by our rules (see tls/contexts.py), not uvicorn's defaults."""
    return lambda _config, _default: context
