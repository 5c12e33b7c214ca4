"""`Mirror.catch_up`: a mirror of a quiet prefix still answers for a newer revision.

A continue token carries the revision its page was read at, from whichever node
served it; a node whose mirror scanned earlier and has seen no change since must
not wait for a watch event that never comes (found by the scale test: 503s).
The mirror is a real one, over a stand-in for etcd.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest

from ozymandias.store.etcd import Etcd, KeyValue, PrefixSummary, StoreUnavailable, WatchEvent
from ozymandias.store.mirror import AheadOfStore, Mirror

SCANNED_AT = 10
PREFIX = b"/p/"


class FakeEtcd:
    """Scans two keys at `SCANNED_AT`; its watch yields only what `change` hands it;
    `summarise` says what the test set in `now`."""

    def __init__(self, now: PrefixSummary | None) -> None:
        self.now = now
        self.asked = 0
        self._events: asyncio.Queue[WatchEvent] = asyncio.Queue()

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        return SCANNED_AT, [
            KeyValue(prefix + b"a", b"1", 5, 0),
            KeyValue(prefix + b"b", b"2", 7, 0),
        ]

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        while True:
            yield await self._events.get()

    async def summarise(self, prefix: bytes) -> PrefixSummary:
        self.asked += 1
        if self.now is None:
            raise StoreUnavailable("etcd is down")
        return self.now

    def change(self, revision: int) -> None:
        self._events.put_nowait(WatchEvent(PREFIX + b"c", b"3", revision))


@dataclass(frozen=True)
class Case:
    name: str
    wanted: int  # the token's revision
    now: PrefixSummary | None  # what etcd says of the prefix
    returns: bool
    change_at: int | None = None  # a watch event that arrives meanwhile


CASES = [
    Case("already as new", 9, PrefixSummary(0, 0, 0), returns=True),
    Case("quiet prefix, etcd newer", 50, PrefixSummary(2, 7, 60), returns=True),
    Case("a key changed since the scan", 50, PrefixSummary(2, 55, 60), returns=False),
    Case("a key deleted since the scan", 50, PrefixSummary(1, 7, 60), returns=False),
    Case("etcd unreachable", 50, None, returns=False),
    Case("the watch brings it", 50, PrefixSummary(3, 55, 60), returns=True, change_at=55),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_catch_up(case: Case) -> None:
    etcd = FakeEtcd(case.now)
    mirror: Mirror[bytes] = Mirror(cast(Etcd, etcd), PREFIX, lambda _, raw: raw)
    running = asyncio.create_task(mirror.run())
    try:
        await mirror.wait_synced()
        if case.change_at is not None:
            asyncio.get_running_loop().call_later(0.05, etcd.change, case.change_at)
        caught_up = True
        try:
            async with asyncio.timeout(1.0):
                await mirror.catch_up(case.wanted)
        except TimeoutError:
            caught_up = False
        assert caught_up is case.returns
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def running_mirror(etcd: FakeEtcd, decode: Any = None) -> tuple[Mirror[bytes], Any]:
    mirror: Mirror[bytes] = Mirror(cast(Etcd, etcd), PREFIX, decode or (lambda _, raw: raw))
    running = asyncio.create_task(mirror.run())
    await mirror.wait_synced()
    return mirror, running


async def stopped(running: Any) -> None:
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running


async def test_a_quiet_mirror_moves_to_etcds_revision_once() -> None:
    # So the next page's token, made at that revision, costs etcd nothing.
    etcd = FakeEtcd(PrefixSummary(2, 7, 60))
    mirror, running = await running_mirror(etcd)
    try:
        await mirror.catch_up(50)
        assert (mirror.revision, etcd.asked) == (60, 1)
        await mirror.catch_up(60)
        assert etcd.asked == 1
    finally:
        await stopped(running)


async def test_a_revision_etcd_has_not_reached_is_refused() -> None:
    # No page was ever read there: a forged or foreign token, answered 400 at once.
    mirror, running = await running_mirror(FakeEtcd(PrefixSummary(2, 7, 60)))
    try:
        with pytest.raises(AheadOfStore):
            await mirror.catch_up(70)
    finally:
        await stopped(running)


async def test_a_record_that_does_not_decode_still_counts_as_held() -> None:
    # etcd counts it; the mirror left it out of its items (a newer node's record).
    def decode(key: bytes, raw: bytes) -> bytes:
        if key.endswith(b"b"):
            raise ValueError("unknown field")
        return raw

    mirror, running = await running_mirror(FakeEtcd(PrefixSummary(2, 7, 60)), decode)
    try:
        assert len(mirror.items) == 1
        async with asyncio.timeout(1.0):
            await mirror.catch_up(50)
    finally:
        await stopped(running)


async def test_the_watch_is_given_a_moment_before_etcd_is_asked() -> None:
    etcd = FakeEtcd(PrefixSummary(3, 55, 60))
    mirror: Mirror[bytes] = Mirror(cast(Etcd, etcd), PREFIX, lambda _, raw: raw)
    running = asyncio.create_task(mirror.run())
    try:
        await mirror.wait_synced()
        etcd.change(55)
        await mirror.catch_up(50)
        assert etcd.asked == 0
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
