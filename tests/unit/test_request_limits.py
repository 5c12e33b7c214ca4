"""The API's request limits (api/request_limits.py, api/server.py), in front of a tiny app."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ozymandias.api.problems import Problem
from ozymandias.api.request_limits import ApiLimits, Follows, RequestLimits
from ozymandias.api.server import api_server
from ozymandias.tls.certificates import create_ca, create_node_certificate
from ozymandias.tls.contexts import ClientTls, client_context
from ozymandias.tls.settings import ServerTls
from tests.support.machine import free_port

release = asyncio.Event()


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"size": len(body)})


async def hold(request: Request) -> JSONResponse:
    await release.wait()
    return JSONResponse({"held": True})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def slow(request: Request) -> JSONResponse:
    await asyncio.sleep(1.5)
    return JSONResponse({"slow": "done"})


def limited(limits: ApiLimits) -> RequestLimits:
    routes = [
        Route("/echo", echo, methods=["PUT"]),
        Route("/hold", hold),
        Route("/v1/health", healthz),
        Route("/slow", slow),
    ]
    return RequestLimits(Starlette(routes=routes), limits)


def client(limits: ApiLimits) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(limited(limits)), base_url="http://t")


async def test_a_body_within_the_limit_reaches_the_handler_whole() -> None:
    async with client(ApiLimits(max_body_bytes=1000)) as api:
        reply = await api.put("/echo", content=b"x" * 1000)
    assert reply.status_code == 200 and reply.json() == {"size": 1000}


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_past_the_limit_is_refused_with_413(declared: bool) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 100

    content: bytes | AsyncIterator[bytes] = b"x" * 2000 if declared else chunks()
    async with client(ApiLimits(max_body_bytes=1000)) as api:
        reply = await api.put("/echo", content=content)
    assert reply.status_code == 413
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"].endswith("#body-too-large") and problem["limit"] == "api-max-body"
    assert "1000 bytes" in problem["detail"]


async def test_a_body_too_slow_to_arrive_is_refused_with_408() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"x"
            await asyncio.sleep(0.1)

    async with client(ApiLimits(body_seconds=0.3)) as api:
        reply = await api.put("/echo", content=trickle())
    assert reply.status_code == 408
    assert reply.json()["type"].endswith("#request-timeout")


async def test_past_the_requests_in_flight_a_request_gets_429_but_health_still_answers() -> None:
    release.clear()
    async with client(ApiLimits(max_in_flight=2)) as api:
        held = [asyncio.create_task(api.get("/hold")) for _ in range(2)]
        for _ in range(200):  # until both are being handled
            await asyncio.sleep(0.01)
            refused = await api.get("/hold")
            if refused.status_code == 429:
                break
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"].endswith("#too-many-requests")
        assert (await api.get("/v1/health")).status_code == 200
        release.set()
        assert [(await task).status_code for task in held] == [200, 200]
        assert (await api.get("/hold")).status_code == 200


@contextlib.asynccontextmanager
async def serving(limits: ApiLimits, tls: ServerTls | None = None) -> AsyncIterator[int]:
    """The tiny app behind `limits`, served by the API's real server on a loopback port."""
    port = free_port()
    server = api_server(limited(limits), "127.0.0.1", port, limits, tls)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture(scope="module")
def api_tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ServerTls, ssl.SSLContext]:
    """A certificate for the server, and a client context that trusts it."""
    directory = tmp_path_factory.mktemp("tls")
    create_ca(directory)
    create_node_certificate(directory, "n1", directory)
    tls = ServerTls(directory / "n1.pem", directory / "n1-key.pem")
    return tls, client_context(ClientTls(ca=Path(directory / "ca.pem")))


@pytest.mark.parametrize("https", [False, True])
async def test_a_client_trickling_its_headers_is_cut_off_and_holds_up_no_one(
    https: bool, api_tls: tuple[ServerTls, ssl.SSLContext]
) -> None:
    tls, context = api_tls if https else (None, None)
    async with serving(ApiLimits(header_seconds=1.0), tls) as port:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost" if https else None
        )
        writer.write(b"GET /v1/health HTTP/1.1\r\nHost: t\r\n")  # never finished
        await writer.drain()
        scheme = "https" if https else "http"
        async with httpx.AsyncClient(
            base_url=f"{scheme}://127.0.0.1:{port}", verify=context or True
        ) as api:
            assert (await api.get("/v1/health")).status_code == 200  # served meanwhile
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()


async def test_a_client_that_leaves_mid_body_has_nothing_handled() -> None:
    handled: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        handled.append(b"called")

    messages: list[Message] = [
        {"type": "http.request", "body": b"numInstances: 1", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        raise AssertionError(f"nobody to answer, yet sent {message}")

    scope: Scope = {"type": "http", "path": "/v1/jobs/web", "headers": []}
    await RequestLimits(app, ApiLimits())(scope, receive, send)
    assert handled == []


def request(path: str) -> tuple[Scope, Receive]:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    return {"type": "http", "path": path, "headers": []}, receive


async def test_a_response_under_way_holds_no_place_among_the_requests_in_flight() -> None:
    release.clear()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/follow":
            await release.wait()  # a followed log, streaming for as long as it is read
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    limited_app = RequestLimits(app, ApiLimits(max_in_flight=1))
    started = asyncio.Event()
    statuses: list[int] = []

    async def following_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.set()

    async def quick_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    following = asyncio.create_task(limited_app(*request("/follow"), following_send))
    await asyncio.wait_for(started.wait(), 10)
    await limited_app(*request("/quick"), quick_send)
    release.set()
    await asyncio.wait_for(following, 10)
    assert statuses == [200]


async def test_a_pipelined_request_slower_than_the_header_deadline_is_answered() -> None:
    async with serving(ApiLimits(header_seconds=0.5)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Both requests in one write: the second is read whole before the first is answered.
        writer.write(
            b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\nGET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        await writer.drain()
        received = b""
        while b'{"slow":"done"}' not in received:
            chunk = await asyncio.wait_for(reader.read(4096), 10)
            assert chunk, f"closed before the second answer: {received!r}"
            received += chunk
        writer.close()


def test_followed_logs_are_counted_up_to_their_limit() -> None:
    follows = Follows(ApiLimits(max_follows=2))
    follows.begin()
    follows.begin()
    with pytest.raises(Problem) as refused:
        follows.begin()
    assert refused.value.status == 429 and refused.value.extra["limit"] == "api-max-follows"
    follows.end()
    follows.begin()  # a place came free


def test_a_counted_stream_frees_its_place_when_it_ends_or_its_client_leaves() -> None:
    follows = Follows(ApiLimits(max_follows=1))

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    async def read(take: int) -> list[bytes]:
        follows.begin()
        stream = follows.counted(chunks())
        got = [chunk async for chunk in stream][:take] if take == 2 else [await anext(stream)]
        await stream.aclose()  # type: ignore[attr-defined]
        return got

    assert asyncio.run(read(2)) == [b"one", b"two"]
    assert asyncio.run(read(1)) == [b"one"]  # left after one chunk
    follows.begin()  # neither holds its place any more
