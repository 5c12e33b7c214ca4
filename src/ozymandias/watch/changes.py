"""What changed between two snapshots of a kind's objects (pure).

A snapshot maps each object's name to what the list endpoint returns for
it; a watch sends the difference between two snapshots as changes, each
with the object's new state (or, for a deletion, its last known one).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Snapshot = Mapping[str, dict[str, Any]]


class ChangeType(enum.StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class Change:
    type: ChangeType
    name: str
    object: dict[str, Any]


def changes_between(before: Snapshot, after: Snapshot) -> list[Change]:
    """The changes that turn `before` into `after`: deletions first (in `before`'s order),
    then additions and modifications (in `after`'s order, the list endpoint's)."""
    deleted = [
        Change(ChangeType.DELETED, name, obj) for name, obj in before.items() if name not in after
    ]
    rest = [
        Change(ChangeType.ADDED if name not in before else ChangeType.MODIFIED, name, obj)
        for name, obj in after.items()
        if before.get(name) != obj
    ]
    return deleted + rest


def added(snapshot: Snapshot) -> list[Change]:
    """The whole snapshot as additions, in its order: what a new watcher is sent first."""
    return [Change(ChangeType.ADDED, name, obj) for name, obj in snapshot.items()]
