"""Reconciliation: which instance indices a job keeps, creates and stops."""

import pytest

from ozymandias.cluster.records import InstanceState, Schedule
from ozymandias.scheduling import reconcile


def schedule(placed: list[int], pending: list[int] | None = None) -> Schedule:
    return Schedule(
        job="web",
        placements={i: "node-a" for i in placed},
        pending={i: "no room" for i in pending or []},
    )


@pytest.mark.parametrize(
    ("desired", "placed", "pending", "keep", "place", "stop"),
    [
        pytest.param(3, [], [], [], [0, 1, 2], [], id="new job takes 0..n-1"),
        pytest.param(3, [0, 1, 2], [], [0, 1, 2], [], [], id="same count changes nothing"),
        pytest.param(5, [0, 2, 4], [], [0, 2, 4], [1, 3], [], id="scale up fills the gaps first"),
        pytest.param(4, [0, 1], [], [0, 1], [2, 3], [], id="scale up appends"),
        pytest.param(2, [0, 1, 2, 3], [], [0, 1], [], [2, 3], id="scale down: highest first"),
        pytest.param(0, [0, 1], [], [], [], [0, 1], id="scale to zero"),
        pytest.param(3, [0, 1, 2], [3], [0, 1, 2], [], [3], id="scale down: pending first"),
        pytest.param(4, [0, 1], [2], [0, 1, 2], [3], [], id="pending counts as existing"),
    ],
)
def test_reconcile_buckets(
    desired: int,
    placed: list[int],
    pending: list[int],
    keep: list[int],
    place: list[int],
    stop: list[int],
) -> None:
    diff = reconcile(desired, schedule(placed, pending))
    assert (diff.keep, diff.place, diff.stop) == (keep, place, stop)


def test_reconcile_without_a_schedule_places_everything() -> None:
    diff = reconcile(2, None)
    assert (diff.keep, diff.place, diff.stop) == ([], [0, 1], [])


@pytest.mark.parametrize(
    ("states", "stop"),
    [
        pytest.param({}, [3, 4], id="all healthy: highest first"),
        pytest.param({1: InstanceState.FAILED}, [1, 4], id="failed first"),
        pytest.param({0: InstanceState.COMPLETED}, [0, 4], id="completed first"),
        pytest.param({2: "unhealthy"}, [2, 4], id="unhealthy first"),
        pytest.param(
            {0: "unhealthy", 1: InstanceState.FAILED, 2: InstanceState.COMPLETED},
            [1, 2],
            id="several bad: highest bad first",
        ),
        pytest.param(
            {0: InstanceState.RUNNING, 4: InstanceState.STARTING},
            [3, 4],
            id="running and starting are not bad",
        ),
    ],
)
def test_scale_down_stops_bad_instances_first(states: dict[int, str], stop: list[int]) -> None:
    diff = reconcile(3, schedule([0, 1, 2, 3, 4]), states)
    assert diff.stop == stop
    assert diff.keep == sorted(set(range(5)) - set(stop))
