"""The system-job planner: one instance per eligible node, stable indices, pending per node."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling import ClusterView, NodeView, PlacementRequest
from ozymandias.scheduling.system import plan_system, system_plan_changes

G = 1024**3


def node(
    name: str,
    *,
    free: int = 8,
    labels: dict[str, str] | None = None,
    cordoned: bool = False,
) -> NodeView:
    """A node of 8G memory and disk with `free` G of memory left."""
    return NodeView(
        name=name,
        labels=labels or {},
        capacity_memory=8 * G,
        capacity_disk=8 * G,
        free_memory=free * G,
        free_disk=8 * G,
        cordoned=cordoned,
    )


def request(memory: int = 1, **constraints: object) -> PlacementRequest:
    return PlacementRequest(job="agent", count=0, memory=memory * G, disk=0, **constraints)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    name: str
    nodes: list[NodeView]
    existing: Schedule | None = None
    request: PlacementRequest = field(default_factory=request)
    placements: dict[int, str] = field(default_factory=dict)
    pending_on: dict[int, str] = field(default_factory=dict)  # index -> node
    placed: dict[int, str] = field(default_factory=dict)
    stopped: list[int] = field(default_factory=list)
    delta: dict[str, int] = field(default_factory=dict)  # node -> G of memory


def schedule(placements: dict[int, str], nodes: dict[int, str] | None = None) -> Schedule:
    return Schedule(job="agent", placements=placements, nodes=nodes or dict(placements))


CASES = [
    Case(
        "every node gets one, in name order",
        [node("b"), node("a"), node("c")],
        placements={0: "a", 1: "b", 2: "c"},
        placed={0: "a", 1: "b", 2: "c"},
        delta={"a": 1, "b": 1, "c": 1},
    ),
    Case(
        "a joining node takes the lowest free index; the others stay",
        [node("a"), node("b"), node("c")],
        existing=schedule({0: "a", 2: "c"}),
        placements={0: "a", 1: "b", 2: "c"},
        placed={1: "b"},
        delta={"b": 1},
    ),
    Case(
        "a node that left takes its instance with it: nothing pending, nothing moved",
        [node("a"), node("c")],
        existing=schedule({0: "a", 1: "b", 2: "c"}),
        placements={0: "a", 2: "c"},
        stopped=[1],
        delta={"b": -1},
    ),
    Case(
        "the index of a node that left is not reused in the same plan",
        [node("a"), node("d")],
        existing=schedule({0: "a", 1: "b"}),
        placements={0: "a", 2: "d"},
        placed={2: "d"},
        stopped=[1],
        delta={"b": -1, "d": 1},
    ),
    Case(
        "a node without room gets a pending instance naming it",
        [node("a"), node("b", free=0)],
        placements={0: "a"},
        pending_on={1: "b"},
        placed={0: "a"},
        delta={"a": 1},
    ),
    Case(
        "a pending instance keeps its index, and is placed once room appears",
        [node("a"), node("b")],
        existing=schedule({0: "a"}, {0: "a", 5: "b"}),
        placements={0: "a", 5: "b"},
        placed={5: "b"},
        delta={"b": 1},
    ),
    Case(
        "a cordoned node gets none, but keeps the one it has",
        [node("a", cordoned=True), node("b", cordoned=True)],
        existing=schedule({0: "a"}),
        placements={0: "a"},
    ),
    Case(
        "the node selector limits it; a node that loses the label loses its instance",
        [node("a", labels={"zone": "x"}), node("b"), node("c", labels={"zone": "x"})],
        existing=schedule({0: "a", 1: "b"}),
        request=request(node_selector={"zone": "x"}),
        placements={0: "a", 2: "c"},
        placed={2: "c"},
        stopped=[1],
        delta={"b": -1, "c": 1},
    ),
    Case(
        "a bigger pod stays where its own old room makes it fit, else waits there",
        [node("a", free=1), node("b", free=0)],
        existing=schedule({0: "a", 1: "b"}),
        request=request(memory=2),
        placements={0: "a"},
        pending_on={1: "b"},
        stopped=[1],
        delta={"a": 1, "b": -1},
    ),
    Case("no node: nothing at all", [], placements={}),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_plan_system(case: Case) -> None:
    result = plan_system(
        case.request, case.existing, ClusterView(case.nodes), previous_pod=Resources(memory=G)
    )
    assert result.schedule.placements == case.placements
    assert {i: r.split(":")[0] for i, r in result.schedule.pending.items()} == {
        i: f"node {n}" for i, n in case.pending_on.items()
    }
    assert result.schedule.nodes == case.placements | case.pending_on
    assert result.placed == case.placed
    assert result.stopped == case.stopped
    assert {n: d.memory // G for n, d in result.allocation_delta.items()} == case.delta


def test_pending_reason_says_what_the_node_lacks() -> None:
    result = plan_system(request(memory=2), None, ClusterView([node("tiny", free=1)]))
    assert result.schedule.pending[0].startswith("node tiny: Job requires 2G of memory")


def test_only_a_new_reason_is_not_worth_a_commit() -> None:
    before = Schedule(job="agent", pending={0: "node a: old reason"}, nodes={0: "a"})
    assert not system_plan_changes(before, before.model_copy(update={"pending": {0: "new"}}))
    assert system_plan_changes(before, before.model_copy(update={"placements": {0: "a"}}))
    assert system_plan_changes(None, before)
