"""Load-aware ranking: busy nodes are passed over, all else being equal, and never refused."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import pytest

from ozymandias.cluster.records import Node, Resources
from ozymandias.load_report import LoadReporter, load_per_core, worth_reporting
from ozymandias.scheduling import ClusterView, NodeView, PlacementRequest, plan_all_or_nothing
from ozymandias.scheduling.rankers import LoadPenalty
from ozymandias.scheduling.view import Candidate
from tests.support.placement import planned

G = 1024**3


def node(name: str, overload: float = 0.0, free_memory: int = 8) -> NodeView:
    return NodeView(
        name=name,
        labels={},
        capacity_memory=8 * G,
        capacity_disk=10 * G,
        free_memory=free_memory * G,
        free_disk=10 * G,
        overload=overload,
    )


def one_instance(count: int = 1) -> PlacementRequest:
    return PlacementRequest(job="web", count=count, memory=G, disk=0)


@pytest.mark.parametrize(
    ("loadavg", "cores", "per_core"),
    [
        ("0.00 0.01 0.05 1/123 4567", 2, 0.0),
        ("3.00 2.00 1.00 2/300 999", 2, 1.5),
        ("1.23 0.50 0.10 1/1 1", 1, 1.23),
        ("0.50 0.50 0.50 1/1 1", 0, 0.5),  # a core count of 0 reads as 1
    ],
)
def test_load_per_core_is_the_one_minute_average_over_the_cores(
    loadavg: str, cores: int, per_core: float
) -> None:
    assert load_per_core(loadavg, cores) == per_core


def test_an_empty_load_file_is_an_error() -> None:
    with pytest.raises(ValueError):
        load_per_core("", 2)


@pytest.mark.parametrize(
    ("reported", "current", "worth"),
    [(0.5, 0.5, False), (0.5, 0.59, False), (0.5, 0.61, True), (0.5, 0.39, True), (0.0, 2.0, True)],
)
def test_only_a_change_of_more_than_a_tenth_is_written(
    reported: float, current: float, worth: bool
) -> None:
    assert worth_reporting(reported, current) == worth


@pytest.mark.parametrize(
    ("load", "threshold", "overload", "penalty"),
    [
        (0.5, 0.8, 0.0, 0.0),  # idle: no penalty
        (0.8, 0.8, 0.0, 0.0),  # at the threshold: still none
        (1.3, 0.8, 0.5, -0.5),
        (5.0, 0.8, 4.2, -1.0),  # capped: about one bin-packing score
        (0.5, 0.2, 0.3, -0.3),  # the node's own threshold counts
    ],
)
def test_the_penalty_grows_with_load_above_the_nodes_threshold(
    load: float, threshold: float, overload: float, penalty: float
) -> None:
    record = Node(
        name="n",
        address="10.0.0.1",
        api_url="http://10.0.0.1:7070",
        capacity=Resources(memory=8 * G),
        started_at=0,
        load=load,
        load_threshold=threshold,
    )
    assert record.overload == pytest.approx(overload)
    [view] = ClusterView.from_records([record], {})
    assert view.overload == pytest.approx(overload)
    candidate = Candidate(view, view.free_memory, view.free_disk, 0)
    assert LoadPenalty().score(candidate) == pytest.approx(penalty)


def test_a_busy_node_is_passed_over_all_else_being_equal() -> None:
    # "a" would win the tie on its name; its load sends the instance to "b".
    view = ClusterView([node("a", overload=0.5), node("b")])
    assert planned(plan_all_or_nothing(one_instance(), None, view)).schedule.placements == {0: "b"}
    idle = ClusterView([node("a"), node("b")])
    assert planned(plan_all_or_nothing(one_instance(), None, idle)).schedule.placements == {0: "a"}


def test_the_penalty_never_makes_a_feasible_placement_fail() -> None:
    view = ClusterView([node("busy", overload=10.0), node("full", free_memory=0)])
    result = planned(plan_all_or_nothing(one_instance(count=3), None, view))
    assert set(result.schedule.placements.values()) == {"busy"}


def test_bin_packing_still_outweighs_a_slight_load() -> None:
    """Slightly busy but nearly full beats idle and empty: the penalty breaks ties, it does
    not undo bin packing."""
    view = ClusterView([node("empty"), node("packed", overload=0.05, free_memory=2)])
    assert planned(plan_all_or_nothing(one_instance(), None, view)).schedule.placements == {
        0: "packed"
    }


class FakeStore:
    """Records the loads written; `accept` says whether the record was still the node's."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.written: list[tuple[str, float, int]] = []

    async def update_node_load(self, name: str, load: float, lease_id: int) -> bool:
        self.written.append((name, load, lease_id))
        return self.accept


async def test_the_reporter_writes_only_changes_and_retries_a_refused_write(
    tmp_path: Path,
) -> None:
    loadavg = tmp_path / "loadavg"
    store = FakeStore()
    reporter = LoadReporter(cast(Any, store), "n1", lambda: 7, loadavg, cores=2, reported=0.5)
    loadavg.write_text("1.1 0 0 1/1 1\n")  # 0.55 per core: within a tenth of 0.5
    await reporter.report_once()
    assert store.written == []
    loadavg.write_text("3.0 0 0 1/1 1\n")  # 1.5 per core
    await reporter.report_once()
    assert store.written == [("n1", 1.5, 7)] and reporter.reported == 1.5
    store.accept = False
    loadavg.write_text("0.2 0 0 1/1 1\n")
    await reporter.report_once()
    assert reporter.reported == 1.5  # not written: the next reading tries again
    loadavg.unlink()
    await reporter.report_once()  # an unreadable file is logged, not fatal
    assert len(store.written) == 2


async def test_an_unreadable_load_file_is_warned_of_once_until_it_reads_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loadavg = tmp_path / "loadavg"
    reporter = LoadReporter(cast(Any, FakeStore()), "n1", lambda: 7, loadavg, cores=1, reported=0)
    caplog.set_level(logging.DEBUG, logger="ozymandias.load_report")

    await reporter.report_once()
    await reporter.report_once()
    await reporter.report_once()
    assert [record.levelname for record in caplog.records] == ["WARNING", "DEBUG", "DEBUG"]
    caplog.clear()
    loadavg.write_text("0.1 0 0 1/1 1\n")
    await reporter.report_once()
    loadavg.unlink()
    await reporter.report_once()
    assert [record.levelname for record in caplog.records] == ["WARNING"]
