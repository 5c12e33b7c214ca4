"""Properties of placement over random clusters and random sequences of submits and scales."""

from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling import (
    ClusterView,
    NodeView,
    PlacementRequest,
    PlanResult,
    check_invariants,
    plan_all_or_nothing,
    plan_as_many_as_fit,
)


@st.composite
def nodes(draw: st.DrawFn) -> NodeView:
    memory = draw(st.integers(0, 16))
    disk = draw(st.integers(0, 16))
    return NodeView(
        name="",  # named by position in `clusters`
        labels=draw(st.sampled_from([{}, {"zone": "a"}, {"zone": "b"}])),
        capacity_memory=memory,
        capacity_disk=disk,
        free_memory=memory,
        free_disk=disk,
        # Mostly live, uncordoned nodes, so that most plans have somewhere to go.
        alive=draw(st.sampled_from([True, True, True, False])),
        cordoned=draw(st.sampled_from([False, False, False, True])),
    )


clusters = st.lists(nodes(), min_size=1, max_size=6).map(
    lambda ns: [replace(n, name=f"n{i}") for i, n in enumerate(ns)]
)


@dataclass(frozen=True)
class Op:
    job: str
    count: int
    memory: int
    disk: int
    zone: str | None
    resize: bool  # a spec change: size and constraints from this op; else a scale


ops = st.builds(
    Op,
    job=st.sampled_from(["j0", "j1", "j2"]),
    count=st.integers(0, 8),
    memory=st.integers(1, 4),
    disk=st.integers(0, 3),
    zone=st.sampled_from([None, "a", "b"]),
    resize=st.booleans(),
)


def request_for(op: Op, previous: PlacementRequest | None) -> PlacementRequest:
    if previous is not None and not op.resize:
        return replace(previous, count=op.count)
    return PlacementRequest(
        job=op.job,
        count=op.count,
        memory=op.memory,
        disk=op.disk,
        node_selector={"zone": op.zone} if op.zone else {},
    )


def room_for(request: PlacementRequest, view: ClusterView) -> int:
    """How many more instances fit, counted independently of the scheduler."""
    total = 0
    for node in view:
        if not node.alive or node.cordoned:
            continue
        if any(node.labels.get(k) != v for k, v in request.node_selector.items()):
            continue
        by_memory = node.free_memory // request.memory
        by_disk = node.free_disk // request.disk if request.disk else by_memory
        total += max(0, min(by_memory, by_disk))
    return total


def allocations_of(view: ClusterView) -> dict[str, Resources]:
    return {node.name: node.allocated for node in view}


def capacities_of(view: ClusterView, *, live_only: bool = False) -> dict[str, Resources]:
    return {
        node.name: Resources(memory=node.capacity_memory, disk=node.capacity_disk)
        for node in view
        if node.alive or not live_only
    }


@settings(max_examples=300, deadline=None)
@given(clusters, st.lists(ops, min_size=1, max_size=15))
def test_submits_and_scales_keep_the_invariants(
    cluster: list[NodeView], sequence: list[Op]
) -> None:
    view = ClusterView(cluster)
    requests: dict[str, PlacementRequest] = {}
    schedules: dict[str, Schedule] = {}
    for op in sequence:
        previous = requests.get(op.job)
        request = request_for(op, previous)
        existing = schedules.get(op.job)
        before = allocations_of(view)
        unchanged_shape = previous is not None and not op.resize
        current = len(existing.placements) if existing else 0
        needed = max(0, request.count - current)
        fits = room_for(request, view) >= needed

        result = plan_all_or_nothing(
            request, existing, view, previous_pod=previous.pod if previous else None
        )

        if existing is None or unchanged_shape:
            # A new job or a scale: accepted exactly when the new instances fit.
            assert isinstance(result, PlanResult) == fits
        if not isinstance(result, PlanResult):
            assert allocations_of(view) == before  # a rejection changes nothing
            continue
        view.apply(result.allocation_delta)
        requests[op.job] = request
        schedules[op.job] = result.schedule
        assert len(result.schedule.placements) == request.count
        assert result.schedule.pending == {}
        pods = {job: r.pod for job, r in requests.items()}
        assert (
            check_invariants(capacities_of(view), allocations_of(view), schedules.values(), pods)
            == []
        )


@settings(max_examples=200, deadline=None)
@given(
    clusters,
    st.lists(ops, min_size=1, max_size=6),
    st.sets(st.integers(0, 5), min_size=1),
)
def test_replacing_a_dead_nodes_instances_keeps_the_invariants(
    cluster: list[NodeView], sequence: list[Op], dying: set[int]
) -> None:
    view = ClusterView(cluster)
    requests: dict[str, PlacementRequest] = {}
    schedules: dict[str, Schedule] = {}
    for op in sequence:
        request = request_for(replace(op, resize=True), None)
        previous = requests.get(op.job)
        result = plan_as_many_as_fit(
            request, schedules.get(op.job), view, previous_pod=previous.pod if previous else None
        )
        view.apply(result.allocation_delta)
        requests[op.job], schedules[op.job] = request, result.schedule

    dead = {f"n{i}" for i in dying}
    for node in view:
        if node.name in dead:
            node.alive = False
    for job, request in requests.items():
        result = plan_as_many_as_fit(request, schedules[job], view)
        view.apply(result.allocation_delta)
        schedules[job] = result.schedule
        assert len(result.schedule.placements) + len(result.schedule.pending) == request.count
        assert not dead & set(result.schedule.placements.values())

    # The dead nodes' allocations have all moved away with their instances.
    assert all(node.allocated == Resources() for node in view if node.name in dead)
    pods = {job: r.pod for job, r in requests.items()}
    live = capacities_of(view, live_only=True)
    live_allocations = {name: r for name, r in allocations_of(view).items() if name in live}
    assert check_invariants(live, live_allocations, schedules.values(), pods) == []
