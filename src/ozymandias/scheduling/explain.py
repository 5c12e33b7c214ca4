"""Why a job's instances don't fit: every dimension at once, after Nomad's placement metrics.

A user who is told only the first reason fixes it, submits again and learns
the next one. So a rejection counts, as Nomad's `AllocMetric` does, the nodes
evaluated, those filtered out by each constraint and those exhausted on each
resource, and its detail names every shortfall: "Job requires 18G of memory
(3 × 6G) but only 6G can be allocated (1 instance fits; 10G free on 1 node); no
node matches shared storage ...".

Its `kind` keeps the precedence rejections always had, so clients that branch
on the problem type see what they saw before: constraints first (no node may
hold the job at all), then memory, then disk, then CPU.

Resources are measured on the nodes that pass every constraint. When none
does, they are measured on the schedulable nodes instead, as if the
constraints were met: that tells the user whether fixing the constraints alone
will do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ozymandias.cluster.records import describe_storage_domain
from ozymandias.scheduling.filters import ConstraintFilter, NodeIsSchedulable, count_nodes
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.view import NodeView
from ozymandias.spec.sizes import format_cpu, format_size

RejectionKind = Literal[
    "insufficient-memory",
    "insufficient-disk",
    "insufficient-cpu",
    "unsatisfiable-constraints",
    "volume-topology-conflict",
]

TITLES: dict[RejectionKind, str] = {
    "insufficient-memory": "Insufficient memory for job",
    "insufficient-disk": "Insufficient disk space for job",
    "insufficient-cpu": "Insufficient CPU for job",
    "unsatisfiable-constraints": "Unsatisfiable scheduling constraints for job",
    "volume-topology-conflict": "Job's shared volumes can't be reached where it would fit",
}

# A node, with the free (memory, disk, cpu) it has for the job being planned.
Room = tuple[NodeView, int, int, int]


@dataclass(frozen=True, slots=True)
class _Dimension:
    """One resource a pod needs, as a rejection names it."""

    name: str  # "memory": the key of `nodes_exhausted`
    kind: RejectionKind
    format: Callable[[int], str]


# In the order rejections have always taken their kind: memory, then disk, then CPU.
_DIMENSIONS = (
    _Dimension("memory", "insufficient-memory", format_size),
    _Dimension("disk", "insufficient-disk", format_size),
    _Dimension("cpu", "insufficient-cpu", format_cpu),
)


@dataclass(frozen=True, slots=True)
class PlacementMetrics:
    """What a failed placement saw, as Nomad's `AllocMetric`: the problem's `placement` member.

    `nodes_filtered` counts, per reason ("down", "cordoned", or a constraint
    as the user wrote it), the nodes it ruled out; a node failing several
    constraints counts under each. `nodes_exhausted` counts, per resource, the
    nodes left without room for one more instance once they hold all that fit,
    among the nodes the resources were measured on (see above).
    """

    nodes_evaluated: int
    nodes_filtered: Mapping[str, int]
    nodes_exhausted: Mapping[str, int]
    instances_to_place: int
    instances_fitting: int

    def to_json(self) -> dict[str, Any]:
        return {
            "nodesEvaluated": self.nodes_evaluated,
            "nodesFiltered": dict(self.nodes_filtered),
            "nodesExhausted": dict(self.nodes_exhausted),
            "instancesToPlace": self.instances_to_place,
            "instancesFitting": self.instances_fitting,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a job's instances can't all be placed, in problem-details terms."""

    job: str
    kind: RejectionKind
    detail: str
    metrics: PlacementMetrics

    @property
    def title(self) -> str:
        return TITLES[self.kind]


def explain_shortfall(
    request: PlacementRequest,
    count: int,
    constraints: Sequence[ConstraintFilter],
    rooms: Sequence[Room],
) -> Rejection:
    """Why `count` more instances don't fit, given every node and the room it has for the job.

    "Can be allocated" counts whole pods: the sum over the nodes of
    floor(free / pod size) × pod size, for memory and disk separately. When
    each resource alone would suffice but no node has both, it is memory that
    is reported, counting only pods that fit both.
    """
    schedulable = [room for room in rooms if room[0].schedulable]
    feasible = [room for room in schedulable if _passes_all(constraints, room[0])]
    shortage = _resource_shortage(request, count, feasible or schedulable)
    filtered, filter_clauses = _filtering(constraints, [room[0] for room in rooms], bool(feasible))
    if feasible:
        # The plan failed on these nodes, so some resource is short on them.
        assert shortage.kind is not None, "a failed placement with nothing short"
        kind: RejectionKind = shortage.kind
    else:
        kind = "unsatisfiable-constraints"
    metrics = PlacementMetrics(
        nodes_evaluated=len(rooms),
        nodes_filtered=filtered,
        nodes_exhausted=shortage.exhausted,
        instances_to_place=count,
        instances_fitting=shortage.fitting if feasible else 0,
    )
    return Rejection(request.job, kind, "; ".join(shortage.clauses + filter_clauses), metrics)


def explain_shared_storage(
    request: PlacementRequest,
    domains: Sequence[str],
    shared_free: Mapping[str, int],
    nodes: Sequence[NodeView],
    constraints: Sequence[ConstraintFilter],
    elsewhere: Rejection | None,
) -> Rejection:
    """No domain has room for the job's shared volumes; `elsewhere` is what else falls short
    were they anywhere (None: nothing), `constraints` the job's own."""
    most_free = max(domains, key=lambda domain: (shared_free.get(domain, 0), domain))
    detail = (
        f"Job requires {format_size(request.shared_growth)} of shared storage "
        f"but only {format_size(max(0, shared_free.get(most_free, 0)))} is free "
        f"(in {describe_storage_domain(most_free)})"
    )
    full = set(domains)
    exhausted = sum(1 for node in nodes if node.storage_domain in full)
    if elsewhere is None:
        base = replace(filter_metrics(nodes, constraints), instances_to_place=request.count)
    else:
        base = elsewhere.metrics
        detail = f"{detail}; {elsewhere.detail}"
    metrics = replace(
        base,
        nodes_exhausted={"shared storage": exhausted, **base.nodes_exhausted},
        instances_fitting=0,
    )
    return Rejection(request.job, "insufficient-disk", detail, metrics)


def filter_metrics(
    nodes: Sequence[NodeView], constraints: Sequence[ConstraintFilter]
) -> PlacementMetrics:
    """The metrics of a rejection that is not about room: nodes evaluated and filtered only."""
    filtered, _ = _filtering(constraints, nodes, True)
    return PlacementMetrics(len(nodes), filtered, {}, 0, 0)


def whole_pods(free: int, size: int, unlimited: int) -> int:
    """How many pods of `size` fit in `free`; `unlimited` when the pod needs none of it."""
    return unlimited if size <= 0 else max(0, free // size)


def _passes_all(constraints: Sequence[ConstraintFilter], node: NodeView) -> bool:
    return all(constraint.passes(node) for constraint in constraints)


@dataclass(frozen=True, slots=True)
class _Shortage:
    kind: RejectionKind | None  # the first resource short, None when none is
    clauses: list[str]
    exhausted: dict[str, int]
    fitting: int  # instances that fit, counting only pods with room for both resources


def _resource_shortage(request: PlacementRequest, count: int, pool: Sequence[Room]) -> _Shortage:
    sizes = (request.memory, request.disk, request.cpu)
    frees = [(memory, disk, cpu) for _, memory, disk, cpu in pool]
    # Per node, how many pods fit by each resource alone.
    pods = [
        tuple(whole_pods(free, size, count) for free, size in zip(free_here, sizes, strict=True))
        for free_here in frees
    ]
    fitting = sum(min(by_each) for by_each in pods)
    if not pool or fitting >= count:  # no node to measure, or room enough were constraints met
        return _Shortage(None, [], {}, fitting)
    kind: RejectionKind | None = None
    clauses = []
    for position, dimension in enumerate(_DIMENSIONS):
        by_this = sum(by_each[position] for by_each in pods)
        if by_this < count:
            kind = kind or dimension.kind
            free = [free_here[position] for free_here in frees]
            clauses.append(_too_little(dimension, count, sizes[position], by_this, free))
    if kind is None:
        kind = "insufficient-memory"
        clauses.append(_not_together(count, sizes, fitting))
    # One subject for every resource: "Job requires 18G of memory ...; 30G of disk ...".
    clauses[0] = f"Job requires {clauses[0]}"
    # What each node lacks once it holds all it can: the dimension that stops it.
    exhausted: Counter[str] = Counter()
    for free_here, by_each in zip(frees, pods, strict=True):
        held = min(by_each)
        for position, dimension in enumerate(_DIMENSIONS):
            size = sizes[position]
            if size > 0 and free_here[position] - held * size < size:
                exhausted[dimension.name] += 1
    return _Shortage(kind, clauses, dict(sorted(exhausted.items())), fitting)


def _wanted(dimension: _Dimension, count: int, size: int) -> str:
    return (
        f"{dimension.format(count * size)} of {dimension.name} ({count} × {dimension.format(size)})"
    )


def _too_little(
    dimension: _Dimension, count: int, size: int, fitting: int, free: Sequence[int]
) -> str:
    """One resource's clause, after "Job requires": what the instances need, what can be had,
    and the room there is."""
    wanted = _wanted(dimension, count, size)
    room = [max(0, amount) for amount in free]
    if fitting == 0:
        # "only 0B can be allocated" would hide that a node does have room, just not enough.
        if len(room) == 1:
            return f"{wanted} but no instance fits ({dimension.format(room[0])} free on 1 node)"
        return (
            f"{wanted} but no instance fits "
            f"(at most {dimension.format(max(room))} free on any of {len(room)} nodes)"
        )
    fits = "1 instance fits" if fitting == 1 else f"{fitting} instances fit"
    nodes = "1 node" if len(room) == 1 else f"{len(room)} nodes"
    return (
        f"{wanted} but only {dimension.format(fitting * size)} can be allocated "
        f"({fits}; {dimension.format(sum(room))} free on {nodes})"
    )


def _not_together(count: int, sizes: Sequence[int], fitting: int) -> str:
    """Each resource alone would do, but not on the same nodes."""
    memory = _DIMENSIONS[0]
    wanted = _wanted(memory, count, sizes[0])
    others = " and ".join(
        f"{dimension.format(size)} of {dimension.name}"
        for dimension, size in zip(_DIMENSIONS[1:], sizes[1:], strict=True)
        if size > 0
    )
    if fitting == 0:
        return (
            f"{wanted} but no instance fits: no node has {format_size(sizes[0])} of memory "
            f"and {others} free"
        )
    fits = "1 instance fits" if fitting == 1 else f"{fitting} instances fit"
    return (
        f"{wanted} but only {format_size(fitting * sizes[0])} can be allocated "
        f"on nodes that also have {others} free ({fits})"
    )


def _filtering(
    constraints: Sequence[ConstraintFilter], nodes: Sequence[NodeView], some_feasible: bool
) -> tuple[dict[str, int], list[str]]:
    """The nodes each reason rules out, and the clauses saying so.

    With no node left, the clauses say which requirement to blame, and what
    the nodes have instead; otherwise they only count what was ruled out.
    """
    schedulable_filter = NodeIsSchedulable()
    unschedulable = [node for node in nodes if not schedulable_filter.passes(node)]
    schedulable = [node for node in nodes if schedulable_filter.passes(node)]
    filtered: dict[str, int] = {}
    down = sum(1 for node in unschedulable if not node.alive)
    if down:
        filtered["down"] = down
    if len(unschedulable) > down:
        filtered["cordoned"] = len(unschedulable) - down
    rejected_by = [
        (constraint, [node for node in schedulable if not constraint.passes(node)])
        for constraint in constraints
    ]
    filtered.update(
        (constraint.requirement, len(rejected)) for constraint, rejected in rejected_by if rejected
    )
    if not nodes:
        return filtered, ["the cluster has no nodes"]
    if not schedulable:
        return filtered, [f"no node is schedulable: {schedulable_filter.describe_rejected(nodes)}"]
    clauses = [] if some_feasible else [_unsatisfiable(rejected_by, len(schedulable))]
    if some_feasible:
        clauses.extend(
            f"{count_nodes(len(rejected), 'fails', 'fail')} {constraint.requirement}"
            for constraint, rejected in rejected_by
            if rejected
        )
    if unschedulable:
        clauses.append(schedulable_filter.describe_rejected(unschedulable))
    return filtered, clauses


def _unsatisfiable(
    rejected_by: Sequence[tuple[ConstraintFilter, list[NodeView]]], schedulable: int
) -> str:
    """Why no schedulable node passes every constraint, naming the one to blame if one suffices."""
    for constraint, rejected in rejected_by:
        if len(rejected) == schedulable:
            what_they_have = constraint.describe_rejected(rejected)
            return f"no node matches {constraint.requirement}: {what_they_have}"
    # Each constraint alone leaves some node, but together they leave none.
    requirements = " and ".join(constraint.requirement for constraint, _ in rejected_by)
    ruled_out = ", ".join(
        f"{count_nodes(len(rejected), 'fails', 'fail')} {constraint.requirement}"
        for constraint, rejected in rejected_by
    )
    return f"no node matches {requirements}: {ruled_out}"
