"""A watch hub over a real mirror of a scripted etcd (watch/hub.py, store/mirror.py's change log).

The feed is one prefix whose keys are their own groups, so what the hub
recomputes, sends, remembers and drops can be read off directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from ozymandias.store import mirror as mirror_module
from ozymandias.store.etcd import Etcd, KeyValue, RevisionCompacted, WatchEvent
from ozymandias.store.mirror import Mirror
from ozymandias.store.watch_sources import Followed
from ozymandias.watch.changes import ChangeType
from ozymandias.watch.history import Batch
from ozymandias.watch.hub import Feed, Hub, HubSettings, Subscription
from tests.support.waiting import eventually, within

PREFIX = b"/t/"
_COMPACT = WatchEvent(b"", None, 0)


class ScriptedEtcd:
    """One prefix in a dict; each change is handed to the watch, as etcd's would be."""

    def __init__(self) -> None:
        self.data: dict[bytes, tuple[bytes, int]] = {}
        self.revision = 100
        self._events: asyncio.Queue[WatchEvent] = asyncio.Queue()

    def put(self, name: str, value: str) -> int:
        self.revision += 1
        self.data[PREFIX + name.encode()] = (value.encode(), self.revision)
        self._events.put_nowait(WatchEvent(PREFIX + name.encode(), value.encode(), self.revision))
        return self.revision

    def delete(self, name: str) -> int:
        self.revision += 1
        self.data.pop(PREFIX + name.encode())
        self._events.put_nowait(WatchEvent(PREFIX + name.encode(), None, self.revision))
        return self.revision

    def compact_quietly(self, name: str) -> None:
        """Delete `name` unseen, and break the watch as a compaction does: only a scan tells."""
        self.revision += 1
        self.data.pop(PREFIX + name.encode())
        self._events.put_nowait(_COMPACT)

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        pairs = [KeyValue(k, v, r, 0) for k, (v, r) in sorted(self.data.items())]
        return self.revision, pairs

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        while True:
            event = await self._events.get()
            if event is _COMPACT:
                raise RevisionCompacted(self.revision)
            yield event


class Things:
    """The feed: each key its own group and object; counts what it was asked to show."""

    def __init__(self, mirror: Mirror[str]) -> None:
        self.mirror = mirror
        self.shown: list[set[str]] = []

    def feed(self) -> Feed:
        return Feed(
            "thing",
            [Followed(self.mirror, lambda key: key[len(PREFIX) :].decode())],
            lambda: {key[len(PREFIX) :].decode() for key in self.mirror.items},
            self.views,
            self.mirror.wait_synced,
            lambda: self.mirror.revision,
        )

    def views(self, groups: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
        self.shown.append(groups)
        items = self.mirror.items
        return {
            g: {g: {"value": items[PREFIX + g.encode()]}}
            for g in groups
            if PREFIX + g.encode() in items
        }


@contextlib.asynccontextmanager
async def running(
    etcd: ScriptedEtcd, **settings: Any
) -> AsyncIterator[tuple[Hub, Things, Mirror[str]]]:
    mirror: Mirror[str] = Mirror(cast(Etcd, etcd), PREFIX, lambda _, raw: raw.decode())
    things = Things(mirror)
    hub = Hub(things.feed(), HubSettings(coalesce_seconds=0.01, **settings))
    tasks = [asyncio.create_task(mirror.run()), asyncio.create_task(hub.run())]
    try:
        yield hub, things, mirror
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def summary(batch: Batch | None) -> list[tuple[str, str, Any]]:
    assert batch is not None
    return [(c.type.value, c.name, c.object["value"]) for c in batch.changes]


async def next_batch(subscription: Subscription) -> Batch | None:
    return await within(subscription.queue.get(), "the next batch", seconds=10)


async def test_a_watcher_gets_the_state_then_each_change_recomputing_only_what_changed() -> None:
    etcd = ScriptedEtcd()
    etcd.put("a", "1")
    etcd.put("b", "1")
    async with running(etcd) as (hub, things, _):
        subscription, start = await hub.subscribe(None, lambda: None)
        assert start.snapshot is not None
        assert [(c.type, c.name) for c in start.snapshot] == [
            (ChangeType.ADDED, "a"),
            (ChangeType.ADDED, "b"),
        ]
        assert start.revision == etcd.revision

        modified = etcd.put("a", "2")
        batch = await next_batch(subscription)
        assert summary(batch) == [("MODIFIED", "a", "2")]
        assert batch is not None and batch.revision == modified
        assert things.shown[-1] == {"a"}  # b was not recomputed

        deleted = etcd.delete("b")
        batch = await next_batch(subscription)
        assert summary(batch) == [("DELETED", "b", "1")]  # with its last known object
        assert batch is not None and batch.revision == deleted


async def test_a_burst_of_changes_is_one_batch() -> None:
    etcd = ScriptedEtcd()
    async with running(etcd) as (hub, _, _):
        subscription, _ = await hub.subscribe(None, lambda: None)
        etcd.put("a", "1")
        etcd.put("b", "1")
        last = etcd.put("a", "2")
        batch = await next_batch(subscription)
        assert summary(batch) == [("ADDED", "a", "2"), ("ADDED", "b", "1")]
        assert batch is not None and batch.revision == last


async def test_a_reconnect_gets_what_it_missed_or_a_relist_when_too_old() -> None:
    etcd = ScriptedEtcd()
    async with running(etcd, history_changes=2) as (hub, _, _):
        watcher, start = await hub.subscribe(None, lambda: None)
        first = etcd.put("a", "1")
        await next_batch(watcher)
        etcd.put("b", "1")
        await next_batch(watcher)
        etcd.put("c", "1")
        await next_batch(watcher)

        _, resumed = await hub.subscribe(first, lambda: None)
        assert not resumed.relist and resumed.snapshot is None
        assert [summary(batch) for batch in resumed.batches] == [
            [("ADDED", "b", "1")],
            [("ADDED", "c", "1")],
        ]
        # The history holds two changes: from before the first, the client must list again.
        _, too_old = await hub.subscribe(start.revision, lambda: None)
        assert too_old.relist
        assert too_old.snapshot is not None
        assert [c.name for c in too_old.snapshot] == ["a", "b", "c"]


async def test_a_watcher_that_stops_reading_is_dropped_and_the_others_go_on() -> None:
    etcd = ScriptedEtcd()
    async with running(etcd, queue_batches=2) as (hub, _, _):
        drops: list[str] = []
        slow, _ = await hub.subscribe(None, lambda: drops.append("slow"))
        reader, _ = await hub.subscribe(None, lambda: drops.append("reader"))
        seen = []
        for index in range(5):
            etcd.put(f"k{index}", "1")
            seen += summary(await next_batch(reader))
        assert drops == ["slow"]  # once, when its queue was full
        assert slow.dropped and not reader.dropped
        assert [name for _, name, _ in seen] == ["k0", "k1", "k2", "k3", "k4"]
        assert slow.queue.qsize() == 2  # nothing more was queued for it
        etcd.put("k5", "1")
        assert summary(await next_batch(reader)) == [("ADDED", "k5", "1")]


async def test_after_a_compaction_the_hub_compares_everything_and_misses_no_deletion() -> None:
    etcd = ScriptedEtcd()
    etcd.put("a", "1")
    etcd.put("b", "1")
    async with running(etcd) as (hub, things, mirror):
        subscription, _ = await hub.subscribe(None, lambda: None)
        etcd.compact_quietly("a")
        batch = await next_batch(subscription)
        assert summary(batch) == [("DELETED", "a", "1")]
        assert things.shown[-1] == {"a", "b"}
        assert mirror.changed_since(0) is None  # the scan replaced everything


async def test_ending_the_hub_ends_every_stream_and_refuses_none() -> None:
    etcd = ScriptedEtcd()
    async with running(etcd) as (hub, _, _):
        subscription, _ = await hub.subscribe(None, lambda: None)
        hub.end()
        assert await next_batch(subscription) is None
        late, start = await hub.subscribe(None, lambda: None)
        assert start.snapshot == []
        assert await next_batch(late) is None


async def test_the_mirror_change_log_forgets_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mirror_module, "CHANGE_LOG_LENGTH", 3)
    etcd = ScriptedEtcd()
    async with running(etcd) as (_, _, mirror):
        await mirror.wait_synced()
        start = mirror.revision
        revisions = [etcd.put(name, "1") for name in ("a", "b", "c", "d")]
        await eventually(lambda: mirror.revision == revisions[-1], "the mirror to catch up")
        assert mirror.changed_since(revisions[1]) == {PREFIX + b"c", PREFIX + b"d"}
        assert mirror.changed_since(revisions[0]) == {PREFIX + b"b", PREFIX + b"c", PREFIX + b"d"}
        assert mirror.changed_since(start) is None  # a's change is no longer in the log
