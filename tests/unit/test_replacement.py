"""Re-placement planning: what a survivor commits after a node dies, and when it commits nothing."""

from __future__ import annotations

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule
from ozymandias.jobs.replacement import needs_placement, plan_replacement
from ozymandias.spec.loader import job_from_data
from ozymandias.store.planning_inputs import PlanningInputs

MiB = 1024 * 1024
POD = Resources(memory=64 * MiB)


def node(name: str, memory_mib: int = 256) -> Node:
    return Node(
        name=name,
        address="10.0.0.1",
        api_url="http://10.0.0.1:7070",
        capacity=Resources(memory=memory_mib * MiB, disk=1024 * MiB),
        started_at=0.0,
    )


def inputs(
    nodes: list[Node], placements: dict[int, str], pending: dict[int, str] | None = None
) -> PlanningInputs:
    spec = job_from_data(
        {
            "name": "web",
            "numInstances": len(placements) + len(pending or {}),
            "containers": {"app": {"image": "web", "memory": "64M"}},
        }
    )
    allocations: dict[str, tuple[Resources, int]] = {}
    for name in placements.values():
        used, _ = allocations.get(name, (Resources(), 0))
        allocations[name] = (used + POD, 7)
    return PlanningInputs(
        nodes=nodes,
        allocations=allocations,
        job=JobRecord(spec=spec),
        job_revision=3,
        schedule=Schedule(job="web", placements=placements, pending=pending or {}),
        schedule_revision=4,
    )


def test_instances_of_a_dead_node_move_and_its_total_drops() -> None:
    plan = plan_replacement(inputs([node("a"), node("b")], {0: "a", 1: "b", 2: "dead", 3: "dead"}))
    assert plan is not None
    assert set(plan.placed) == {2, 3}
    assert set(plan.placed.values()) <= {"a", "b"}
    assert plan.schedule.pending == {}
    assert plan.allocation_delta["dead"] == Resources() - POD * 2
    assert sum(d.memory for d in plan.allocation_delta.values()) == 0


def test_what_fits_nowhere_stays_pending_with_a_reason() -> None:
    plan = plan_replacement(inputs([node("a", memory_mib=128)], {0: "a", 1: "dead", 2: "dead"}))
    assert plan is not None
    assert plan.schedule.placements == {0: "a", 1: "a"}
    assert list(plan.schedule.pending) == [2]
    assert plan.schedule.pending[2] == (
        "Job requires 64M of memory (1 × 64M) but no instance fits (0B free on 1 node)"
    )


def test_nothing_to_commit_when_nothing_was_lost_or_nothing_more_fits() -> None:
    assert plan_replacement(inputs([node("a")], {0: "a", 1: "a"})) is None
    full = inputs([node("a", memory_mib=128)], {0: "a", 1: "a"}, pending={2: "no room"})
    assert plan_replacement(full) is None


def test_pending_instances_are_placed_once_room_appears() -> None:
    plan = plan_replacement(inputs([node("a", 128), node("b")], {0: "a", 1: "a"}, {2: "no room"}))
    assert plan is not None
    assert plan.placed == {2: "b"}
    assert plan.schedule.pending == {}


def test_needs_placement() -> None:
    assert needs_placement(Schedule(job="j", placements={0: "gone"}), ["a"])
    assert needs_placement(Schedule(job="j", pending={0: "no room"}), ["a"])
    assert not needs_placement(Schedule(job="j", placements={0: "a"}), ["a"])
