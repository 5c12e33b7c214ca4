"""A live in-memory copy of one etcd prefix: scan, then watch.

The scan reads every key at one revision R; the watch then starts at R + 1,
so no change is missed or seen twice. When the watch breaks it resumes from
the last event's revision + 1 (not from a response header, which loses
events); when that revision has been compacted away, it scans again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ozymandias.metrics.etcd import WATCH_RECONNECTS
from ozymandias.store.etcd import Etcd, RevisionCompacted, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# Back-off between attempts to reach etcd again: quick first, bounded, jittered
# so a cluster of nodes does not reconnect in lock step.
_RETRY_FIRST_SECONDS = 0.2
_RETRY_MAX_SECONDS = 5.0

# Changed keys a mirror remembers for followers that recompute only what changed (the
# watch streams); one that falls further behind recomputes everything instead.
CHANGE_LOG_LENGTH = 4096

# How long `catch_up` lets the watch bring a revision before asking etcd, doubling
# between asks (each reads the whole prefix on etcd's side).
_CATCH_UP_WATCH_SECONDS = 0.2
_CATCH_UP_WATCH_MAX_SECONDS = 1.6


class AheadOfStore(ValueError):
    """A revision newer than etcd's own: no page this cluster served was read at it."""

    def __init__(self, revision: int, store_revision: int) -> None:
        super().__init__(f"revision {revision} is ahead of the store's ({store_revision})")
        self.revision = revision
        self.store_revision = store_revision


class Mirror(Generic[T]):
    """Keeps `items` equal to the decoded values under `prefix` in etcd.

    With `group_of`, it also keeps `items` grouped (instance statuses by job),
    so reading one group costs its size, not the whole prefix's.
    """

    def __init__(
        self,
        etcd: Etcd,
        prefix: bytes,
        decode: Callable[[bytes, bytes], T],
        group_of: Callable[[T], str] | None = None,
    ) -> None:
        self.prefix = prefix
        self.items: dict[bytes, T] = {}
        self._group_of = group_of
        self._groups: dict[str, dict[bytes, T]] = {}
        self.mod_revisions: dict[bytes, int] = {}
        # The store revision `items` reflects: every change up to it has been applied.
        self.revision = 0
        self._etcd = etcd
        self._decode = decode
        self._synced = asyncio.Event()
        self._changed = asyncio.Condition()
        # (revision, key) of every change after `_log_floor`, oldest first.
        self._log: deque[tuple[int, bytes]] = deque()
        self._log_floor = 0
        # Keys whose value did not decode: in etcd, yet left out of `items`.
        self._undecodable: set[bytes] = set()

    async def run(self) -> None:
        """Follow the prefix until cancelled, through etcd outages and compactions."""
        delay = _RETRY_FIRST_SECONDS
        needs_scan = True
        while True:
            revision_before = self.revision
            try:
                if needs_scan:
                    await self._scan()
                    needs_scan = False
                await self._follow()
            except RevisionCompacted as error:
                log.warning("mirror %s: %s; scanning again", self.prefix.decode(), error)
                WATCH_RECONNECTS.labels(self.prefix.decode()).inc()
                needs_scan = True
            except StoreUnavailable as error:
                WATCH_RECONNECTS.labels(self.prefix.decode()).inc()
                if self.revision > revision_before:
                    # It got through before breaking: a new outage, so start quick again.
                    delay = _RETRY_FIRST_SECONDS
                log.warning("mirror %s: %s; retrying in %.1fs", self.prefix.decode(), error, delay)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, _RETRY_MAX_SECONDS)
                continue
            delay = _RETRY_FIRST_SECONDS

    async def wait_synced(self) -> None:
        """Return once the first scan has loaded."""
        await self._synced.wait()

    async def wait_for_change(self, after_revision: int) -> int:
        """Wait until the mirror has moved past `after_revision`; return its revision."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.revision > after_revision)
            return self.revision

    async def wait_for_revision(self, revision: int) -> None:
        """Wait until every change up to `revision` is reflected here."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.revision >= revision)

    async def catch_up(self, revision: int) -> None:
        """Wait until the items are at least as new as `revision`.

        The watch moves `self.revision` only when something under the prefix
        changes, so on a quiet prefix a mirror that scanned before `revision`
        would wait forever (a continue token made by a node that started later).
        When the watch brings nothing soon, etcd is asked instead: if no key
        under the prefix changed after what the mirror holds and it holds as
        many, the items equal etcd's now, so the mirror moves to etcd's revision
        (once: the next page's token is not behind it any more). Raises
        `AheadOfStore` for a revision etcd has not reached: no token it made can be.
        """
        patience = _CATCH_UP_WATCH_SECONDS
        while self.revision < revision:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self.wait_for_revision(revision)
                    return
            patience = min(patience * 2, _CATCH_UP_WATCH_MAX_SECONDS)
            held = (self.revision, self._held_count())
            try:
                # Costly on a big prefix (etcd reads all of it to sort): once per stale token.
                now = await self._etcd.summarise(self.prefix)
            except StoreUnavailable as error:
                log.debug("mirror %s: cannot ask etcd to catch up: %s", self.prefix.decode(), error)
                continue
            if now.revision < revision:
                raise AheadOfStore(revision, now.revision)
            unchanged = (
                now.newest_mod_revision <= held[0]
                and now.count == held[1]
                and (self.revision, self._held_count()) == held
            )
            if unchanged:
                await self._advance(now.revision)

    def _held_count(self) -> int:
        """The keys this mirror accounts for: those it holds, and those it could not decode."""
        return len(self.items) + len(self._undecodable)

    def group(self, name: str) -> dict[bytes, T]:
        """The items of one group (empty when there is none); needs `group_of`."""
        if self._group_of is None:
            raise TypeError(f"mirror {self.prefix.decode()} keeps no groups")
        return self._groups.get(name, {})

    def changed_since(self, revision: int) -> set[bytes] | None:
        """The keys changed (set or deleted) after `revision`; None when this mirror no
        longer knows (a scan replaced everything, or the log has moved on)."""
        if revision < self._log_floor:
            return None
        changed = set()
        # Newest first, so a pass reads only what is new to it.
        for changed_at, key in reversed(self._log):
            if changed_at <= revision:
                break
            changed.add(key)
        return changed

    async def _scan(self) -> None:
        revision, pairs = await self._etcd.scan(self.prefix)
        self._undecodable = set()
        items: dict[bytes, T] = {}
        mod_revisions: dict[bytes, int] = {}
        for pair in pairs:
            decoded = self._decode_or_none(pair.key, pair.value)
            if decoded is not None:
                items[pair.key] = decoded
                mod_revisions[pair.key] = pair.mod_revision
        self.items = items
        self.mod_revisions = mod_revisions
        self._groups = {}
        for key, value in items.items():
            self._index(key, value)
        # A scan may change any key: followers must look at everything again.
        self._log.clear()
        self._log_floor = revision
        await self._advance(revision)
        self._synced.set()

    async def _follow(self) -> None:
        async for event in self._etcd.watch_prefix(self.prefix, self.revision + 1):
            decoded = None if event.value is None else self._decode_or_none(event.key, event.value)
            if event.value is None:
                self._undecodable.discard(event.key)
            if decoded is None:
                # A delete, or a value a scan would leave out too: either way the
                # value it replaced is gone, so the mirror must not keep it.
                self._unindex(event.key, self.items.pop(event.key, None))
                self.mod_revisions.pop(event.key, None)
            else:
                self._unindex(event.key, self.items.get(event.key))
                self.items[event.key] = decoded
                self.mod_revisions[event.key] = event.mod_revision
                self._index(event.key, decoded)
            self._remember(event.mod_revision, event.key)
            await self._advance(event.mod_revision)
        raise StoreUnavailable(f"watch on {self.prefix.decode()} ended")

    def _index(self, key: bytes, value: T) -> None:
        if self._group_of is not None:
            self._groups.setdefault(self._group_of(value), {})[key] = value

    def _unindex(self, key: bytes, old: T | None) -> None:
        if self._group_of is None or old is None:
            return
        name = self._group_of(old)
        group = self._groups.get(name)
        if group is not None:
            group.pop(key, None)
            if not group:
                del self._groups[name]

    def _remember(self, revision: int, key: bytes) -> None:
        if len(self._log) >= CHANGE_LOG_LENGTH:
            self._log_floor = self._log.popleft()[0]
        self._log.append((revision, key))

    async def _advance(self, revision: int) -> None:
        async with self._changed:
            self.revision = max(self.revision, revision)
            self._changed.notify_all()

    def _decode_or_none(self, key: bytes, value: bytes) -> T | None:
        try:
            decoded = self._decode(key, value)
        except ValueError as error:
            # One bad record must not stop the node from seeing every other one.
            log.error("ignoring undecodable value at %s: %s", key.decode(), error)
            self._undecodable.add(key)
            return None
        self._undecodable.discard(key)
        return decoded


async def any_changed(
    watched: list[tuple[Mirror[Any], int]],
    *,
    also: asyncio.Event | None = None,
    at_most: float | None = None,
) -> None:
    """Return once any mirror moves past its paired revision, `also` is set, or `at_most` s pass.

    The one way a loop that follows several prefixes waits for its next pass,
    as thing-doer's `Watcher` follows several prefixes at once.
    """
    waits: list[asyncio.Future[Any]] = [
        asyncio.ensure_future(mirror.wait_for_change(revision)) for mirror, revision in watched
    ]
    if also is not None:
        waits.append(asyncio.ensure_future(also.wait()))
    try:
        await asyncio.wait(waits, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
