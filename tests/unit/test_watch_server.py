"""Watch streams through the node's real HTTP server (uvicorn, api/server.py), in-process.

A client that stops reading fills its socket, then its queue: the server
must cut its connection (the write it waits on never drains) and give its
place back, while other clients go on. An idle stream gets keepalives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ozymandias.api import watch_stream
from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.server import api_server
from ozymandias.api.watch_stream import WatchStreams
from ozymandias.store.etcd import Etcd
from ozymandias.store.mirror import Mirror
from ozymandias.watch.hub import Hub, HubSettings
from tests.support.machine import free_port
from tests.support.waiting import eventually, within
from tests.unit.test_watch_hub import PREFIX, ScriptedEtcd, Things

BIG = "x" * 100_000  # each change's object: a few fill any socket buffer


class OneHub:
    """A node's hubs, as `WatchStreams` asks for them: here one, for every kind."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def hub(self, kind: str) -> Hub:
        return self._hub


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[int, ScriptedEtcd, Hub, WatchStreams]]:
    etcd = ScriptedEtcd()
    mirror: Mirror[str] = Mirror(cast(Etcd, etcd), PREFIX, lambda _, raw: raw.decode())
    hub = Hub(Things(mirror).feed(), HubSettings(coalesce_seconds=0.01, queue_batches=3))
    streams = WatchStreams(cast(Any, OneHub(hub)), ApiLimits())
    app = FastAPI()

    @app.get("/things")
    async def things(request: Request) -> StreamingResponse:
        return streams.open(request, "thing", request.headers.get("last-event-id"))

    port = free_port()
    server = api_server(app, "127.0.0.1", port, ApiLimits())
    tasks = [
        asyncio.create_task(mirror.run()),
        asyncio.create_task(hub.run()),
        asyncio.create_task(server.serve()),
    ]
    try:
        await eventually(lambda: server.started, "the server to listen")
        yield port, etcd, hub, streams
    finally:
        server.should_exit = True
        await within(tasks[2], "the server to stop")
        for task in tasks[:2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def connect(port: int) -> socket.socket:
    """A client that asks for the stream and reads its first bytes, with a tiny receive buffer."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, b"GET /things HTTP/1.1\r\nHost: test\r\n\r\n")
    first = await within(loop.sock_recv(sock, 65536), "the stream's first bytes")
    assert first.startswith(b"HTTP/1.1 200")
    return sock


async def read_until_closed(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await loop.sock_recv(sock, 1 << 20):
            received += chunk
    return received


async def test_a_client_that_stops_reading_is_cut_off_and_the_others_go_on() -> None:
    async with serving() as (port, etcd, _, streams):
        stalled = await connect(port)
        reader = await connect(port)
        loop = asyncio.get_running_loop()
        read = b""
        try:
            for index in range(60):
                revision = etcd.put(f"k{index}", BIG)
                # Each change its own batch; the reader keeps up, the other never reads.
                while f"id: {revision}".encode() not in read:
                    read += await within(loop.sock_recv(reader, 1 << 20), "the reader's events")
            # Cut off while it still reads nothing (its write would never drain)...
            await eventually(lambda: streams.open_streams == 1, "the stalled stream's place back")
            # ...what was sent before can still be read, then the connection ends.
            await within(read_until_closed(stalled), "the stalled client's connection to end")
            revision = etcd.put("after", "1")
            while f"id: {revision}".encode() not in read:
                read += await within(loop.sock_recv(reader, 1 << 20), "the reader's next event")
        finally:
            stalled.close()
            reader.close()
        await eventually(lambda: streams.open_streams == 0, "every place back")


async def test_an_idle_stream_gets_keepalives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_stream, "KEEPALIVE_SECONDS", 0.05)
    async with serving() as (port, _, _, _):
        sock = await connect(port)
        loop = asyncio.get_running_loop()
        received = b""
        try:
            while received.count(b": keepalive\n\n") < 2:
                received += await within(loop.sock_recv(sock, 65536), "keepalives")
        finally:
            sock.close()
