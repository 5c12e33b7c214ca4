"""The hour of per-node allocation samples behind the dashboard's node chart (pure)."""

from __future__ import annotations

import pytest

from ozymandias.allocation_history.history import AllocationHistory
from ozymandias.cluster.records import Resources

CAPACITY = Resources(memory=1000, disk=2000, cpu=4000)


def used(memory: int) -> Resources:
    return Resources(memory=memory)


@pytest.mark.parametrize(
    ("times", "kept"),
    [
        ([0.0], [0.0]),
        ([0.0, 5.0, 10.0], [0.0, 5.0, 10.0]),
        # Closer than the resolution: the newer sample replaces the older one.
        ([0.0, 1.0, 2.0], [2.0]),
        ([0.0, 5.0, 6.0], [0.0, 6.0]),
        # Older than the window (60 s here) when the newest arrives: dropped.
        ([0.0, 30.0, 61.0], [30.0, 61.0]),
        ([0.0, 60.0], [0.0, 60.0]),
    ],
)
def test_samples_are_kept_for_the_window_at_most_one_per_resolution(
    times: list[float], kept: list[float]
) -> None:
    history = AllocationHistory(window=60, resolution=5)
    for time in times:
        history.record(time, {"n1": used(int(time))}, {"n1": CAPACITY})
    samples = history.samples("n1")
    assert [s.time for s in samples] == kept
    assert [s.allocated.memory for s in samples] == [int(t) for t in kept]
    assert all(s.capacity == CAPACITY for s in samples)


def test_memory_is_bounded_however_often_allocations_change() -> None:
    history = AllocationHistory(window=3600, resolution=5)
    for step in range(20_000):  # a change every 0.5 s for well over an hour
        history.record(step * 0.5, {"n1": used(step)}, {"n1": CAPACITY})
    assert len(history.samples("n1")) <= history.max_samples == 721


def test_a_node_without_allocations_reads_zero_and_a_gone_node_ages_out() -> None:
    history = AllocationHistory(window=60, resolution=5)
    history.record(0.0, {}, {"n1": CAPACITY, "n2": CAPACITY})
    assert history.samples("n2")[0].allocated == Resources()
    # n2 left: no new samples, and its old ones stay until they are a window old.
    history.record(30.0, {}, {"n1": CAPACITY})
    assert [s.time for s in history.samples("n2")] == [0.0]
    history.record(61.0, {}, {"n1": CAPACITY})
    assert history.samples("n2") == []
    assert history.samples("never-seen") == []
