"""Two snapshots of a kind's objects → the changes a watch sends (watch/changes.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.watch.changes import Change, ChangeType, added, changes_between

A1 = {"state": "running"}
A2 = {"state": "exited"}
B1 = {"state": "pending"}
C1 = {"state": "starting"}

ADDED, MODIFIED, DELETED = ChangeType.ADDED, ChangeType.MODIFIED, ChangeType.DELETED


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {}, []),
        ({"a": A1}, {"a": dict(A1)}, []),  # equal, though not the same dict
        ({}, {"a": A1}, [(ADDED, "a", A1)]),
        ({"a": A1}, {"a": A2}, [(MODIFIED, "a", A2)]),
        ({"a": A1}, {}, [(DELETED, "a", A1)]),  # a deletion carries the last known object
        # Deletions first, then the rest in the new snapshot's order (the list's).
        (
            {"a": A1, "b": B1},
            {"c": C1, "a": A2},
            [(DELETED, "b", B1), (ADDED, "c", C1), (MODIFIED, "a", A2)],
        ),
    ],
)
def test_changes_between_two_snapshots(
    before: dict[str, Any], after: dict[str, Any], expected: list[tuple[ChangeType, str, Any]]
) -> None:
    assert changes_between(before, after) == [Change(*item) for item in expected]


def test_a_new_watcher_gets_the_snapshot_as_additions_in_its_order() -> None:
    assert added({"b": B1, "a": A1}) == [Change(ADDED, "b", B1), Change(ADDED, "a", A1)]
