"""The recent changes a watch remembers, for clients that reconnect (pure).

Each batch is the changes one recomputation found, tagged with the etcd
revision the node's mirrors had reached (`id:` on the wire). A client
that reconnects with `Last-Event-ID: R` is sent every batch after R, or
told to list again (RELIST) when R is older than the history reaches.

The mirrors follow their prefixes on separate etcd streams, so a change on
a lagging one can be found after a batch was already sent at the same
revision: two batches then share an id (or a batch shares the start's, a
new watcher's list's). A client resuming from such an id is sent both
again, since it cannot be told which one it had: a repeat of a change is
harmless to a client keeping state, a gap is not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from ozymandias.watch.changes import Change


@dataclass(frozen=True, slots=True)
class Batch:
    revision: int
    changes: tuple[Change, ...]


class TooOld(Exception):
    """The revision asked for is older than what the history still holds."""


class History:
    """The last `most` changes (at least the latest batch whole), by revision."""

    def __init__(self, start_revision: int, most: int) -> None:
        self._batches: deque[Batch] = deque()
        self._size = 0
        self._most = most
        # Revisions a client cannot tell apart: a batch came at the revision of the one
        # before it (or of the start, which a new watcher's list is labelled with).
        self._ambiguous: set[int] = set()
        # Every batch after `_floor` is held; at `_floor` too, unless it is ambiguous and a
        # batch at it was forgotten.
        self._floor = start_revision
        self._floor_ambiguous = False
        self.revision = start_revision

    def add(self, batch: Batch) -> None:
        """Remember `batch` (its revision at least the last one's), forgetting the oldest."""
        if batch.revision == self.revision:
            self._ambiguous.add(batch.revision)
        self._batches.append(batch)
        self._size += len(batch.changes)
        self.revision = max(self.revision, batch.revision)
        while self._size > self._most and len(self._batches) > 1:
            dropped = self._batches.popleft()
            self._size -= len(dropped.changes)
            self._floor = dropped.revision
            self._floor_ambiguous = dropped.revision in self._ambiguous
            self._ambiguous = {r for r in self._ambiguous if r >= self._floor}

    def since(self, revision: int) -> Sequence[Batch]:
        """The batches after `revision` (and those at it, when it is ambiguous); TooOld if
        the history no longer reaches back to `revision`."""
        if revision < self._floor or (revision == self._floor and self._floor_ambiguous):
            raise TooOld(f"revision {revision} is older than {self._floor}")
        again = revision in self._ambiguous
        return [
            batch
            for batch in self._batches
            if batch.revision > revision or (again and batch.revision == revision)
        ]
