"""How the podman event stream's reconnects are logged: a rotation's clean end is routine."""

from __future__ import annotations

import logging
from typing import cast

import httpx
import pytest

from ozymandias.runtime.oom_kills import OomKills
from ozymandias.runtime.podman_connection import PodmanConnection
from ozymandias.runtime.podman_streams import container_exits


class _Podman:
    """A podman service whose events endpoint ends cleanly, then fails, then ends and closes."""

    def __init__(self) -> None:
        self.closed = False
        self.calls = 0
        self.client = httpx.AsyncClient(
            transport=httpx.MockTransport(self._answer), base_url="http://podman"
        )

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 2:
            return httpx.Response(500, json={"message": "boom"})
        if self.calls == 3:
            self.closed = True
        return httpx.Response(200, content=b"")

    async def revive_service(self) -> None:
        return None


async def test_a_clean_end_is_debug_and_a_failure_warns(caplog: pytest.LogCaptureFixture) -> None:
    podman = _Podman()
    caplog.set_level(logging.DEBUG, logger="ozymandias.runtime.podman_streams")
    async for _ in container_exits(
        cast(PodmanConnection, podman), {"ozy.node": "n1"}, cast(OomKills, None)
    ):
        pass
    await podman.client.aclose()
    said = [
        (record.levelno, record.getMessage().split()[3])
        for record in caplog.records
        if "event stream" in record.getMessage()
    ]
    assert said[:2] == [
        (logging.DEBUG, "ended;"),
        (logging.WARNING, "failed"),
    ]
