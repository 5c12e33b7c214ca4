"""The API's request limits (api/request_limits.py, api/server.py), in front of a tiny app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ozymandias.api.request_limits import ApiLimits, RequestLimits
from ozymandias.api.server import api_server

release = asyncio.Event()


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"size": len(body)})


async def hold(request: Request) -> JSONResponse:
    await release.wait()
    return JSONResponse({"held": True})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def limited(limits: ApiLimits) -> RequestLimits:
    routes = [
        Route("/echo", echo, methods=["PUT"]),
        Route("/hold", hold),
        Route("/healthz", healthz),
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
        assert (await api.get("/healthz")).status_code == 200
        release.set()
        assert [(await task).status_code for task in held] == [200, 200]
        assert (await api.get("/hold")).status_code == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_client_trickling_its_headers_is_cut_off_and_holds_up_no_one() -> None:
    port = free_port()
    limits = ApiLimits(header_seconds=1.0)
    server = api_server(limited(limits), "127.0.0.1", port, limits)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # never finished
        await writer.drain()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
            assert (await api.get("/healthz")).status_code == 200  # served meanwhile
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
