"""Polling until something holds, and deadlines for awaiting, in threads and event loops."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# What an async test gives an etcd round trip, a watch event or a mirror to catch up.
DEADLINE_SECONDS = 15.0


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


async def within(awaitable: Awaitable[T], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """Await with a deadline, failing the test with a readable message on timeout."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}") from None


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll a cheap condition on the event loop until it holds, with a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE_SECONDS:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)
