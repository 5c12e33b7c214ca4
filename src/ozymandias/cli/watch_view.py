"""What `ozy get … -w` prints for each event of a watch stream (pure).

The stream's first events are the whole list (ADDED, up to a BOOKMARK):
they are printed as one table, as `ozy get` prints it. Each later event is
one row, led by what happened (ADDED, MODIFIED, DELETED), as `kubectl get
-w --output-watch-events` prints them. A RELIST (the node no longer
remembers where a resumed watch was) starts a fresh table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Listing:
    """The whole list: print it as a table."""

    items: list[dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One change: print its object's row, marked with `change`."""

    change: str
    item: dict[str, Any]


@dataclass(frozen=True)
class Note:
    """Something to tell on stderr."""

    text: str


Output = Listing | Row | Note
CHANGES = ("ADDED", "MODIFIED", "DELETED")


class WatchView:
    """`keep`: the items `-l` selects; `show_deleted`: whether deletions are rows (an
    event's expiry is not news)."""

    def __init__(
        self, keep: Callable[[dict[str, Any]], bool], *, show_deleted: bool = True
    ) -> None:
        self._keep = keep
        self._show_deleted = show_deleted
        # The list being received, until its BOOKMARK; None once changes come.
        self._listing: list[dict[str, Any]] | None = []

    def resuming(self) -> None:
        """A reconnect with Last-Event-ID: only changes come (unless a RELIST)."""
        self._listing = None

    def take(self, event: str, data: dict[str, Any]) -> list[Output]:
        if event == "RELIST":
            self._listing = []
            return [
                Note("the node no longer holds the changes since the last one seen: listing again")
            ]
        item = data.get("object")
        if self._listing is not None:
            if event == "BOOKMARK":
                listing, self._listing = self._listing, None
                return [Listing(listing)]
            if event == "ADDED" and item is not None:
                if self._keep(item):
                    self._listing.append(item)
                return []
        if event not in CHANGES or item is None or not self._keep(item):
            return []
        if event == "DELETED" and not self._show_deleted:
            return []
        return [Row(event, item)]
