"""Preemption: which lower-priority instances a job that does not fit may stop to make room.

After Nomad's scheduler/preemption.go, simplified to whole pods. A job may
preempt when it is a system job or has priority >= 70 (and its node allows
its type, `ozy node run --preemption`); it may stop only instances of jobs at
least 20 priority lower. Room is made one pod at a time: for each node that
passes the job's constraints, the fewest victims that make the pod fit there
(lowest priority first, then largest first, then any one not needed after all
is given back, as Nomad's `filterSuperset`); the node whose set is cheapest
(fewest instances, then lowest priorities) gives it. The plan is then tried
again on the view with that room freed, until it fits or nothing eligible is
left. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling.explain import Rejection
from ozymandias.scheduling.filters import NodeIsSchedulable, constraint_filters
from ozymandias.scheduling.place import PlanResult, plan_all_or_nothing
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.system import plan_system
from ozymandias.scheduling.view import ClusterView, NodeView

# The job types that may preempt unless a node says otherwise: as in Nomad, service jobs may not.
DEFAULT_PREEMPTION = frozenset({"system"})
JOB_TYPES = frozenset({"service", "system"})
# A service job preempts only from this priority up (a system job always may).
PREEMPTING_PRIORITY = 70
# A victim's job is at least this much lower in priority than the preempting one.
PRIORITY_GAP = 20

# Refusals that stopping other instances can cure; a constraint no node passes is not one.
_SHORTFALLS = frozenset({"insufficient-memory", "insufficient-disk", "insufficient-cpu"})


@dataclass(frozen=True, slots=True)
class Preemptible:
    """One placed instance of another job, with what stopping it would free."""

    job: str
    index: int
    node: str
    priority: int
    pod: Resources


@dataclass(frozen=True, slots=True)
class PreemptingPlan:
    """A plan that fits once `victims` stop. `plan.allocation_delta` includes their freed room."""

    plan: PlanResult
    victims: tuple[Preemptible, ...]


def preemption_types(text: str) -> frozenset[str]:
    """`--preemption service,system` as a set of job types ("" or "none": none may preempt)."""
    types = frozenset(part.strip() for part in text.split(",") if part.strip()) - {"none"}
    if unknown := sorted(types - JOB_TYPES):
        raise ValueError(
            f"--preemption takes job types out of {', '.join(sorted(JOB_TYPES))} "
            f"(or none), not {', '.join(unknown)}"
        )
    return types


def may_preempt(job_type: str, priority: int, allowed_types: frozenset[str]) -> bool:
    """Whether a job may stop others at all: its type is allowed, and it is a system job or
    important enough."""
    if job_type not in allowed_types:
        return False
    return job_type == "system" or priority >= PREEMPTING_PRIORITY


def eligible(instances: Sequence[Preemptible], priority: int) -> list[Preemptible]:
    """The instances a job of `priority` may stop: those of jobs at least `PRIORITY_GAP` lower."""
    return [instance for instance in instances if instance.priority <= priority - PRIORITY_GAP]


def plan_with_preemption(
    request: PlacementRequest,
    existing: Schedule | None,
    view: ClusterView,
    preemptible: Sequence[Preemptible],
    *,
    instance_states: Mapping[int, str] | None = None,
    previous_pod: Resources | None = None,
) -> PlanResult | PreemptingPlan | Rejection:
    """Plan as `plan_all_or_nothing`; if the job falls short of room, stop as few of the
    `preemptible` instances (already filtered by `eligible`) as it takes.

    Returns the plain plan when it fits without victims, and the first refusal
    when even stopping every one of them would not make room.
    """
    first = plan_all_or_nothing(
        request, existing, view, instance_states=instance_states, previous_pod=previous_pod
    )
    if not isinstance(first, Rejection) or first.kind not in _SHORTFALLS:
        return first
    scratch = _copy(view)
    remaining = [instance for instance in preemptible if instance.job != request.job]
    victims: list[Preemptible] = []
    freed: dict[str, Resources] = {}
    while True:
        chosen = _cheapest_room(scratch, request, remaining)
        if not chosen:
            return first
        victims += chosen
        remaining = [instance for instance in remaining if instance not in chosen]
        for instance in chosen:
            freed[instance.node] = freed.get(instance.node, Resources()) - instance.pod
            scratch.apply({instance.node: Resources() - instance.pod})
        result = plan_all_or_nothing(
            request, existing, scratch, instance_states=instance_states, previous_pod=previous_pod
        )
        if isinstance(result, PlanResult):
            delta = dict(freed)
            for node, change in result.allocation_delta.items():
                delta[node] = delta.get(node, Resources()) + change
            return PreemptingPlan(replace(result, allocation_delta=delta), tuple(victims))
        if result.kind not in _SHORTFALLS:
            return first


def plan_system_with_preemption(
    request: PlacementRequest,
    existing: Schedule | None,
    view: ClusterView,
    preemptible: Sequence[Preemptible],
    *,
    previous_pod: Resources | None = None,
) -> PlanResult | PreemptingPlan:
    """Plan a system job as `plan_system`; on each node where its instance would be pending
    for want of room, stop the fewest of the `preemptible` instances there (already filtered
    by `eligible`) that make room. A node where even that would not do keeps it pending."""
    first = plan_system(request, existing, view, previous_pod=previous_pod)
    waiting = [first.schedule.nodes[index] for index in sorted(first.schedule.pending)]
    scratch = _copy(view)
    victims: list[Preemptible] = []
    freed: dict[str, Resources] = {}
    for name in waiting:
        node = scratch.get(name)
        if node is None:
            continue
        here = [i for i in preemptible if i.node == name and i.job != request.job]
        for instance in _room_on(node, request.pod, here):
            victims.append(instance)
            freed[name] = freed.get(name, Resources()) - instance.pod
            scratch.apply({name: Resources() - instance.pod})
    if not victims:
        return first
    result = plan_system(request, existing, scratch, previous_pod=previous_pod)
    delta = dict(freed)
    for node_name, change in result.allocation_delta.items():
        delta[node_name] = delta.get(node_name, Resources()) + change
    return PreemptingPlan(replace(result, allocation_delta=delta), tuple(victims))


def preempted_schedules(
    victims: Sequence[Preemptible],
    schedules: Mapping[str, Schedule],
    by_job: str,
    by_priority: int,
) -> dict[str, Schedule]:
    """Each victim job's schedule with its preempted instances pending, saying by whom."""
    reason = f"preempted by {by_job} (priority {by_priority})"
    changed: dict[str, Schedule] = {}
    for victim in victims:
        schedule = changed.get(victim.job, schedules[victim.job])
        placements = dict(schedule.placements)
        del placements[victim.index]
        versions = {i: v for i, v in schedule.versions.items() if i != victim.index}
        changed[victim.job] = schedule.model_copy(
            update={
                "placements": placements,
                "pending": {**schedule.pending, victim.index: reason},
                "versions": versions,
            }
        )
    return changed


def _cheapest_room(
    view: ClusterView, request: PlacementRequest, instances: Sequence[Preemptible]
) -> tuple[Preemptible, ...]:
    """The cheapest set of instances whose stop makes room for one pod; () when none does."""
    filters = [NodeIsSchedulable(), *constraint_filters(request)]
    by_node: dict[str, list[Preemptible]] = {}
    for instance in instances:
        by_node.setdefault(instance.node, []).append(instance)
    best: tuple[Preemptible, ...] = ()
    for name, on_node in sorted(by_node.items()):
        node = view.get(name)
        if node is None or not all(f.passes(node) for f in filters):
            continue
        chosen = _room_on(node, request.pod, on_node)
        if chosen and (not best or _cost(chosen) < _cost(best)):
            best = chosen
    return best


def _room_on(
    node: NodeView, pod: Resources, instances: Sequence[Preemptible]
) -> tuple[Preemptible, ...]:
    """The fewest of `instances` (lowest priority first) whose stop lets `pod` fit on `node`."""
    free = Resources(memory=node.free_memory, disk=node.free_disk, cpu=node.free_cpu)
    chosen: list[Preemptible] = []
    order = sorted(
        instances,
        key=lambda i: (i.priority, -i.pod.memory, -i.pod.cpu, -i.pod.disk, i.job, i.index),
    )
    for instance in order:
        if pod.fits_within(free):
            break
        chosen.append(instance)
        free = free + instance.pod
    if not pod.fits_within(free):
        return ()
    # Give back, highest priority first, any victim the pod fits without.
    for instance in sorted(chosen, key=lambda i: (-i.priority, i.pod.memory, i.job, i.index)):
        if pod.fits_within(free - instance.pod):
            chosen.remove(instance)
            free = free - instance.pod
    return tuple(chosen)


def _cost(victims: Sequence[Preemptible]) -> tuple[int, list[int]]:
    return len(victims), sorted((v.priority for v in victims), reverse=True)


def _copy(view: ClusterView) -> ClusterView:
    return ClusterView([replace(node) for node in view], view.shared_free)
