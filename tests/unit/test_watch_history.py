"""The changes a watch remembers for reconnecting clients (watch/history.py)."""

from __future__ import annotations

import pytest

from ozymandias.watch.changes import Change, ChangeType
from ozymandias.watch.history import Batch, History, TooOld


def batch(revision: int, size: int = 1) -> Batch:
    change = Change(ChangeType.MODIFIED, f"x{revision}", {"revision": revision})
    return Batch(revision, (change,) * size)


def revisions(batches: object) -> list[int]:
    assert isinstance(batches, list)
    return [item.revision for item in batches]


def history(*batches: Batch, most: int = 100, start: int = 10) -> History:
    kept = History(start, most)
    for item in batches:
        kept.add(item)
    return kept


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (10, [12, 15, 20]),  # from the start: everything
        (12, [15, 20]),
        (13, [15, 20]),  # between two batches: the ones after
        (20, []),  # up to date
        (25, []),  # ahead (from another node): nothing yet
    ],
)
def test_since_gives_the_batches_after_a_revision(since: int, expected: list[int]) -> None:
    assert revisions(history(batch(12), batch(15), batch(20)).since(since)) == expected


def test_a_revision_older_than_the_start_is_too_old() -> None:
    with pytest.raises(TooOld):
        history(batch(12)).since(9)


def test_the_oldest_batches_are_forgotten_past_the_bound() -> None:
    kept = history(batch(12, 2), batch(15, 2), batch(20, 2), most=4)
    with pytest.raises(TooOld):
        kept.since(11)
    assert revisions(kept.since(12)) == [15, 20]  # 12 forgotten, but that client had it
    assert revisions(kept.since(14)) == [15, 20]
    assert kept.revision == 20


def test_the_latest_batch_is_kept_whole_even_past_the_bound() -> None:
    kept = history(batch(12), batch(15, 10), most=4)
    assert revisions(kept.since(12)) == [15]
    with pytest.raises(TooOld):
        kept.since(11)


def test_two_batches_at_one_revision_are_both_sent_again_from_it() -> None:
    # A lagging mirror's change found after a batch at the same revision went out: a client
    # at 15 may have had either, so it gets both (a repeat, never a gap).
    kept = history(batch(12), batch(15), batch(15), batch(20))
    assert revisions(kept.since(15)) == [15, 15, 20]
    assert revisions(kept.since(12)) == [15, 15, 20]


def test_a_forgotten_batch_that_shared_its_revision_makes_that_revision_too_old() -> None:
    kept = history(batch(12), batch(15), batch(15), batch(20), most=2)
    with pytest.raises(TooOld):
        kept.since(15)
    assert revisions(kept.since(16)) == [20]


def test_a_batch_at_the_start_revision_is_sent_again_from_it() -> None:
    # A new watcher's list is labelled with the start; a lagging mirror's batch came after it.
    kept = history(batch(10), batch(12), start=10)
    assert revisions(kept.since(10)) == [10, 12]
