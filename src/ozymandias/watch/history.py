"""The recent changes a watch remembers, for clients that reconnect (pure).

Each batch is the changes one recomputation found, tagged with the etcd
revision the node's mirrors had reached (`id:` on the wire). A client
that reconnects with `Last-Event-ID: R` is sent every batch after R, or
told to list again (RELIST) when R is older than the history reaches.

The mirrors follow their prefixes on separate etcd streams, so a change on
a lagging one can be found after a batch was already sent at the same
revision: two batches then share an id. A client resuming from such an id
is sent both again, since it cannot be told which one it had: a repeat of a
change is harmless to a client keeping state, a gap is not.
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
        # Every batch after `_floor` is held; when a batch at `_floor` itself was forgotten
        # with another at that revision, a client at `_floor` may lack either.
        self._floor = start_revision
        self._floor_shared = False
        self.revision = start_revision

    def add(self, batch: Batch) -> None:
        """Remember `batch` (its revision at least the last one's), forgetting the oldest."""
        self._batches.append(batch)
        self._size += len(batch.changes)
        self.revision = max(self.revision, batch.revision)
        while self._size > self._most and len(self._batches) > 1:
            dropped = self._batches.popleft()
            self._size -= len(dropped.changes)
            self._floor_shared = dropped.revision == self._floor or (
                self._batches[0].revision == dropped.revision
            )
            self._floor = dropped.revision

    def since(self, revision: int) -> Sequence[Batch]:
        """The batches after `revision` (and those at it, when it has several); TooOld if
        the history no longer reaches back to `revision`."""
        if revision < self._floor or (revision == self._floor and self._floor_shared):
            raise TooOld(f"revision {revision} is older than {self._floor}")
        several = sum(1 for batch in self._batches if batch.revision == revision) > 1
        return [
            batch
            for batch in self._batches
            if batch.revision > revision or (several and batch.revision == revision)
        ]
