"""Placement of a system job: one instance on every eligible node (pure).

A node is eligible when it is schedulable (alive, not cordoned) and passes the
job's constraints. Each eligible node gets one instance; one that lacks the
room for it gets a pending instance whose reason names it and what it lacks.
An instance stays on its node while the node is registered and passes the
constraints (a cordoned node keeps it, as it keeps a service job's); it goes,
and nothing replaces it elsewhere, when its node leaves or stops passing them.

The schedule keeps each instance's index for as long as it belongs to the
same node (`Schedule.nodes`), so the name users see, `<job>-<node>`, and the
index the agents run stay stable; a new node takes the lowest free index.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling.explain import explain_shortfall
from ozymandias.scheduling.filters import ConstraintFilter, constraint_filters
from ozymandias.scheduling.place import PlanResult
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.view import ClusterView, NodeView


@dataclass(frozen=True, slots=True)
class _Room:
    """A node's free room once the job's own instance there (at its old size) is given back."""

    memory: int
    disk: int
    cpu: int

    def fits(self, pod: Resources) -> bool:
        return self.memory >= pod.memory and self.disk >= pod.disk and self.cpu >= pod.cpu


def plan_system(
    request: PlacementRequest,
    existing: Schedule | None,
    view: ClusterView,
    *,
    previous_pod: Resources | None = None,
) -> PlanResult:
    """Plan a system job against the cluster as it is now; `request.count` is ignored.

    `previous_pod` is the size the existing instances were allocated with, when
    the spec change alters it; by default it is the requested size.
    """
    pod, old_pod = request.pod, previous_pod if previous_pod is not None else request.pod
    constraints = constraint_filters(request)
    before = existing.placements if existing is not None else {}
    owners = _owners(existing)
    index_of = {node: index for index, node in sorted(owners.items(), reverse=True)}

    placements: dict[int, str] = {}
    pending: dict[int, str] = {}
    nodes: dict[int, str] = {}
    placed: dict[int, str] = {}
    for node in view:
        index = index_of.get(node.name)
        was_here = index is not None and before.get(index) == node.name
        if not _passes(constraints, node) or not (node.schedulable or (was_here and node.alive)):
            continue
        if index is None:
            index = _lowest_free(owners, nodes)
        nodes[index] = node.name
        room = _room(node, old_pod if was_here else None)
        if room.fits(pod):
            placements[index] = node.name
            if not was_here:
                placed[index] = node.name
        else:
            pending[index] = _why_not(request, constraints, node, room)

    now_on = Counter(placements.values())
    was_on = Counter(before.values())
    delta: dict[str, Resources] = {}
    for name in sorted(was_on.keys() | now_on.keys()):
        change = pod * now_on[name] - old_pod * was_on[name]
        if change != Resources():
            delta[name] = change
    schedule = Schedule(job=request.job, placements=placements, pending=pending, nodes=nodes)
    return PlanResult(
        schedule=schedule,
        placed=placed,
        stopped=sorted(index for index in before if index not in placements),
        allocation_delta=delta,
    )


def system_plan_changes(before: Schedule | None, after: Schedule) -> bool:
    """Whether a system job's plan is worth a commit: a different placement, or a different
    set of pending instances. An updated pending reason alone is not: it would make every
    node rewrite the schedule on every change of the cluster."""
    if before is None:
        return True
    return (
        before.placements != after.placements
        or set(before.pending) != set(after.pending)
        or before.nodes != after.nodes
    )


def _owners(existing: Schedule | None) -> dict[int, str]:
    """Each instance's node: its placement, or for a pending one, the node it waits for."""
    if existing is None:
        return {}
    return {**existing.nodes, **existing.placements}


def _passes(constraints: list[ConstraintFilter], node: NodeView) -> bool:
    return all(constraint.passes(node) for constraint in constraints)


def _lowest_free(owners: dict[int, str], nodes: dict[int, str]) -> int:
    # An index a node left this very plan is not reused at once: its pod may still be stopping.
    taken = owners.keys() | nodes.keys()
    index = 0
    while index in taken:
        index += 1
    return index


def _room(node: NodeView, own: Resources | None) -> _Room:
    own = own or Resources()
    return _Room(node.free_memory + own.memory, node.free_disk + own.disk, node.free_cpu + own.cpu)


def _why_not(
    request: PlacementRequest,
    constraints: list[ConstraintFilter],
    node: NodeView,
    room: _Room,
) -> str:
    why = explain_shortfall(request, 1, constraints, [(node, room.memory, room.disk, room.cpu)])
    return f"node {node.name}: {why.detail}"
