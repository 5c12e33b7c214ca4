"""trim_heap: glibc gives back the free pages a burst of short-lived objects left, now and then."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ozymandias import heap_trim
from ozymandias.heap_trim import trim_heap


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_trim_returns_the_pages_a_freed_burst_left_in_the_heap() -> None:
    # Blocks above pymalloc's 512 B live in the C heap; a survivor every 64 keeps
    # the freed ones in holes glibc's own trim (the heap's top only) cannot return.
    burst = [bytes(1000) for _ in range(100_000)]
    kept = burst[::64]
    del burst
    before = _rss_kib()
    assert trim_heap()
    assert _rss_kib() < before - 10_000
    del kept  # alive until now: the holes it leaves are what the trim returns


async def test_trims_every_period_until_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    trimmed = asyncio.Event()

    def trim() -> bool:
        trimmed.set()
        return True

    monkeypatch.setattr(heap_trim, "trim_heap", trim)
    task = asyncio.create_task(heap_trim.trim_heap_every(0.01))
    try:
        await asyncio.wait_for(trimmed.wait(), timeout=30)
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
