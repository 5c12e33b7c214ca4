"""One kind's watch: follows the mirrors, finds what changed, and fans it out.

A hub keeps the kind's current objects, grouped (by job, by node, by
event), as the list endpoint shows them. When a mirror it follows moves,
it waits a moment for the rest of a burst, asks the mirrors which groups
changed since its last pass (all of them when a mirror cannot tell),
recomputes only those, and hands the differences, as one batch, to the
history and to every subscriber.

A batch's id, and the start's, is the highest revision any of the node's
mirrors has seen (the store's revision as this node knows it), not only the
followed ones': a kind idle for an hour would otherwise start its watchers
at an hour-old id, which another node, following that kind for less long,
could not resume from.

Each subscriber has a bounded queue. One that falls behind by a full
queue (a client that stopped reading) is dropped: its connection is
closed, and it may come back with `Last-Event-ID`, from the history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ozymandias.store.mirror import any_changed
from ozymandias.store.watch_sources import Followed, changed_groups
from ozymandias.watch.changes import Change, added, changes_between
from ozymandias.watch.history import Batch, History, TooOld

log = logging.getLogger(__name__)

Objects = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Feed:
    """What one kind of watch follows and how it shows each group of objects."""

    kind: str
    sources: Sequence[Followed]
    all_groups: Callable[[], set[str]]
    views: Callable[[set[str]], dict[str, Objects]]
    """Each group's objects by name, in the list endpoint's order; a group absent is empty."""
    ready: Callable[[], Awaitable[None]]
    """Return once the mirrors hold the whole state."""
    revision: Callable[[], int]
    """The highest revision the node's mirrors have seen."""


@dataclass(frozen=True)
class HubSettings:
    coalesce_seconds: float = 0.05
    """How long a pass waits after the first change, to take a burst in one batch."""
    history_changes: int = 4096
    """Changes kept for clients that reconnect (more are a RELIST)."""
    queue_batches: int = 256
    """Batches a subscriber may fall behind before it is dropped."""


@dataclass
class Subscription:
    """One client's place in a hub: the batches not yet sent to it."""

    queue: asyncio.Queue[Batch | None]
    on_drop: Callable[[], None]
    dropped: bool = False

    def offer(self, item: Batch | None) -> bool:
        """Queue `item`; False, with the subscription dropped, if the queue is full."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True
            self.on_drop()
            return False
        return True


@dataclass(frozen=True)
class Start:
    """What a new subscriber is sent before the changes: the whole state (its changes
    all ADDED, at `revision`), or the batches after the id it resumes from."""

    revision: int
    snapshot: list[Change] | None = None
    batches: Sequence[Batch] = ()
    relist: bool = False


@dataclass
class Hub:
    feed: Feed
    settings: HubSettings = field(default_factory=HubSettings)

    def __post_init__(self) -> None:
        self._groups: dict[str, Objects] = {}
        self._subscribers: list[Subscription] = []
        self._history = History(0, self.settings.history_changes)
        # The followed mirrors' revisions at the last pass.
        self._seen: list[int] = []
        self._ready = asyncio.Event()
        self._ended = False

    async def run(self) -> None:
        """Follow the feed until cancelled; every subscriber is ended when it stops."""
        try:
            await self._follow()
        except Exception:
            log.exception("watch of %ss failed; its streams end", self.feed.kind)
        finally:
            self.end()

    def end(self) -> None:
        """End every stream of this hub (the node stops, or the hub failed)."""
        self._ended = True
        self._ready.set()
        for subscription in self._subscribers:
            subscription.offer(None)
        self._subscribers.clear()

    @property
    def ended(self) -> bool:
        return self._ended

    async def subscribe(
        self, since: int | None, on_drop: Callable[[], None]
    ) -> tuple[Subscription, Start]:
        """A new subscription and what to send first: the state, or the changes after
        `since` (with `relist` when the history no longer reaches back to it)."""
        await self._ready.wait()
        subscription = Subscription(asyncio.Queue(self.settings.queue_batches), on_drop)
        if self._ended:
            subscription.offer(None)
            return subscription, Start(self._history.revision, snapshot=[])
        self._subscribers.append(subscription)
        revision = self._history.revision
        if since is None:
            return subscription, Start(revision, snapshot=self._snapshot())
        if since > revision:
            # From a node further ahead: nothing here is news to it yet.
            return subscription, Start(revision)
        try:
            return subscription, Start(revision, batches=self._history.since(since))
        except TooOld:
            return subscription, Start(revision, snapshot=self._snapshot(), relist=True)

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def _snapshot(self) -> list[Change]:
        return [change for group in sorted(self._groups) for change in added(self._groups[group])]

    async def _follow(self) -> None:
        feed = self.feed
        await feed.ready()
        self._seen = [source.mirror.revision for source in feed.sources]
        self._groups = _non_empty(feed.views(feed.all_groups()))
        start = max([feed.revision(), *self._seen])
        self._history = History(start, self.settings.history_changes)
        self._ready.set()
        while True:
            await any_changed(list(zip([s.mirror for s in feed.sources], self._seen, strict=True)))
            await asyncio.sleep(self.settings.coalesce_seconds)
            # No await from here on: the mirrors hold still while a pass reads them.
            changed = changed_groups(feed.sources, self._seen)
            self._seen = [source.mirror.revision for source in feed.sources]
            if changed is None:
                changed = feed.all_groups() | set(self._groups)
            self._apply(changed, max([feed.revision(), *self._seen]))

    def _apply(self, changed: set[str], revision: int) -> None:
        fresh = self.feed.views(changed)
        changes: list[Change] = []
        for group in sorted(changed):
            after = fresh.get(group, {})
            changes += changes_between(self._groups.get(group, {}), after)
            if after:
                self._groups[group] = after
            else:
                self._groups.pop(group, None)
        if not changes:
            return
        batch = Batch(max(revision, self._history.revision), tuple(changes))
        self._history.add(batch)
        for subscription in list(self._subscribers):
            if not subscription.offer(batch):
                log.info(
                    "dropped a slow %s watcher: %d batches behind",
                    self.feed.kind,
                    self.settings.queue_batches,
                )
                self._subscribers.remove(subscription)


def _non_empty(groups: dict[str, Objects]) -> dict[str, Objects]:
    return {group: objects for group, objects in groups.items() if objects}
