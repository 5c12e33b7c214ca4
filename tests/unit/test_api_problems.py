"""An unexpected error is a 500 problem with a request id; its traceback stays in the log."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from ozymandias.api.problems import handle_unexpected_error


async def test_a_bug_answers_500_with_a_request_id_and_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    app.add_exception_handler(Exception, handle_unexpected_error)

    @app.get("/boom")
    async def boom() -> None:
        raise RecursionError("maximum recursion depth exceeded in /secret/internals.py")

    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="ozymandias.api.problems"):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            reply = await client.get("/boom")
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"].endswith("#internal-error")
    assert "secret" not in reply.text and "Recursion" not in reply.text
    request_id = problem["requestId"]
    assert request_id in problem["detail"]
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert "GET /boom" in record.getMessage()
    assert record.exc_info is not None and "secret/internals" in str(record.exc_info[1])
