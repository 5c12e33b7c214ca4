"""`any_changed`: a loop following several mirrors wakes on a change of any, an event, or a timeout.

The mirrors are real ones, run over a stand-in for etcd whose watch yields
the events a test hands it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest

from ozymandias.store.etcd import Etcd, KeyValue, WatchEvent
from ozymandias.store.mirror import Mirror, any_changed

START_REVISION = 10


class FakeEtcd:
    """Scans to nothing at `START_REVISION`; its watch yields what `change` hands it."""

    def __init__(self) -> None:
        self._events: asyncio.Queue[WatchEvent] = asyncio.Queue()

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        return START_REVISION, []

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        while True:
            yield await self._events.get()

    def change(self, prefix: bytes, revision: int) -> None:
        self._events.put_nowait(WatchEvent(prefix + b"key", b"value", revision))


@dataclass(frozen=True)
class Case:
    name: str
    since: tuple[int, int]  # the revisions waited past, for mirrors a and b
    change: str | None = None  # the mirror that gets an event once it waits
    set_also: bool = False
    at_most: float | None = None
    returns: bool = True


CASES = [
    Case("a change of the first mirror", (10, 10), change="a"),
    Case("a change of the second mirror", (10, 10), change="b"),
    Case("a mirror already past its revision", (9, 10)),
    Case("the event is set", (10, 10), set_also=True),
    Case("the time is up", (10, 10), at_most=0.01),
    Case("nothing happens", (10, 10), returns=False),
    Case("a change not past the revision waited for", (12, 12), change="a", returns=False),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_any_changed(case: Case) -> None:
    etcd = FakeEtcd()
    mirrors = {
        name: Mirror(cast(Etcd, etcd), prefix, lambda key, value: value)
        for name, prefix in (("a", b"/a/"), ("b", b"/b/"))
    }
    runs = [asyncio.create_task(mirror.run()) for mirror in mirrors.values()]
    try:
        for mirror in mirrors.values():
            await mirror.wait_synced()
        also = asyncio.Event()
        since = [(mirrors["a"], case.since[0]), (mirrors["b"], case.since[1])]
        waiting = asyncio.create_task(any_changed(since, also=also, at_most=case.at_most))
        await asyncio.sleep(0.01)  # it is waiting now
        if case.change is not None:
            etcd.change(mirrors[case.change].prefix, START_REVISION + 1)
        if case.set_also:
            also.set()
        done, _ = await asyncio.wait({waiting}, timeout=1.0 if case.returns else 0.05)
        assert (waiting in done) == case.returns
        if not case.returns:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


async def test_it_leaves_no_wait_behind() -> None:
    etcd = FakeEtcd()
    mirror = Mirror(cast(Etcd, etcd), b"/a/", lambda key, value: value)
    run = asyncio.create_task(mirror.run())
    try:
        await mirror.wait_synced()
        before = asyncio.all_tasks()
        also = asyncio.Event()
        also.set()
        await any_changed([(mirror, START_REVISION)], also=also)
        for _ in range(10):  # the cancelled waits finish on the next turns of the loop
            await asyncio.sleep(0)
        assert asyncio.all_tasks() == before
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
