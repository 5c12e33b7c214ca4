"""Placement: turn a job's diff into a new schedule, choosing a node for each new instance.

A plan works on scratch copies of the nodes' free room (`Candidate`s), never on
the `ClusterView`, so a rejected plan changes nothing. The caller commits the
plan's schedule and allocation delta, then folds the delta into its view with
`ClusterView.apply`.

Which existing instances stay where they are:

- an instance on a live node that still satisfies the job's constraints stays,
  provided the node fits the pod's new size if the size changed (the lowest
  indices on a node stay first);
- an instance *displaced* by this change (its node no longer satisfies the
  constraints or can't fit the new size) must be placed again, like a new one;
- an instance that was already *lost* (pending, or on a node that is gone) is
  placed again if it fits, and otherwise stays pending. A submit or scale is
  never rejected because of it: re-placing lost instances is the job of the
  `Replacer` (`jobs/replacement.py`), and a scale-down must not fail because a
  node died.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from heapq import heapify, heappop, heapreplace

from ozymandias.cluster.records import Resources, Schedule, describe_storage_domain
from ozymandias.scheduling.explain import (
    Rejection,
    Room,
    explain_shared_storage,
    explain_shortfall,
    filter_metrics,
    whole_pods,
)
from ozymandias.scheduling.filters import (
    ConstraintFilter,
    EnoughCpu,
    EnoughDisk,
    EnoughMemory,
    NodeIsSchedulable,
    constraint_filters,
)
from ozymandias.scheduling.rankers import (
    BinPack,
    JobAntiAffinity,
    LoadPenalty,
    Ranker,
    total_score,
)
from ozymandias.scheduling.reconcile import reconcile
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.view import Candidate, ClusterView, NodeView


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A computed plan, ready to commit.

    `allocation_delta` holds, per node whose allocation changes, the change:
    positive where instances are added or grow, negative where they are
    stopped, moved away or shrink. It may name nodes no longer in the view
    (instances moved off a dead node).
    """

    schedule: Schedule
    placed: dict[int, str]  # instances put on a node by this plan (new or moved), index -> node
    stopped: list[int]
    allocation_delta: dict[str, Resources]
    # For a job with shared volumes: the domain they live in (new ones are
    # created there), and the bytes of shared storage the plan adds to it.
    shared_volume_domain: str | None = None
    shared_allocation_delta: dict[str, int] = field(default_factory=dict)

    @property
    def assignments(self) -> list[tuple[int, str]]:
        """Every placed instance of the job after this plan, as (index, node), by index."""
        return sorted(self.schedule.placements.items())


def plan_all_or_nothing(
    request: PlacementRequest,
    existing: Schedule | None,
    view: ClusterView,
    *,
    instance_states: Mapping[int, str] | None = None,
    previous_pod: Resources | None = None,
) -> PlanResult | Rejection:
    """Plan a submit or scale: every new or displaced instance is placed, or the job is rejected.

    `previous_pod` is the pod size the existing instances were allocated with,
    when the spec change alters it; by default it is the requested size.
    """
    return _plan(_Planning(request, existing, view, instance_states, previous_pod, True))


def plan_as_many_as_fit(
    request: PlacementRequest,
    existing: Schedule | None,
    view: ClusterView,
    *,
    instance_states: Mapping[int, str] | None = None,
    previous_pod: Resources | None = None,
) -> PlanResult:
    """Plan a re-placement (after a node died): place what fits, leave the rest pending."""
    result = _plan(_Planning(request, existing, view, instance_states, previous_pod, False))
    assert isinstance(result, PlanResult)  # only all-or-nothing plans reject
    return result


def usage_by_node(schedule: Schedule, pod: Resources) -> dict[str, Resources]:
    """What one job's placed instances take from each node, e.g. to free it on deletion."""
    return {node: pod * count for node, count in Counter(schedule.placements.values()).items()}


@dataclass(frozen=True, slots=True)
class _Planning:
    """What one plan is computed from; each planning step takes the whole of it."""

    request: PlacementRequest
    existing: Schedule | None
    view: ClusterView
    instance_states: Mapping[int, str] | None
    previous_pod: Resources | None
    all_or_nothing: bool


def _plan(planning: _Planning) -> PlanResult | Rejection:
    request = planning.request
    if not request.shared_volumes or (request.count == 0 and not request.volume_domains):
        # Shared volumes are created with the first placement, so a job with
        # none placed yet and none to place has no domain to keep to.
        return _plan_in_domain(planning, None)
    return _plan_with_shared_volumes(planning)


def _plan_with_shared_volumes(planning: _Planning) -> PlanResult | Rejection:
    """Place a job whose instances share volumes: all in the one domain that holds them.

    Volumes that exist fix the domain. Otherwise they will be created where
    the first instance goes, so the domains are tried in the order of their
    best node for it, skipping those without room for the volumes
    (Kubernetes' WaitForFirstConsumer binding).
    """
    request, view, all_or_nothing = planning.request, planning.view, planning.all_or_nothing
    growth = request.shared_growth
    existing_domains = request.volume_domains
    domains = existing_domains or _domains_by_preference(request, view)
    # A domain with no live node has no known room: the filter then says why it can't do.
    roomy = [
        domain
        for domain in domains
        if domain not in view.shared_free or view.shared_free[domain] >= growth
    ]

    def in_domain(domain: str | None) -> PlanResult | Rejection:
        return _plan_in_domain(planning, domain)

    if all_or_nothing and domains and not roomy:
        # Were the volumes free to go to any domain, what else would fall short?
        anywhere = in_domain(None)
        return explain_shared_storage(
            request,
            domains,
            view.shared_free,
            list(view),
            constraint_filters(request),
            anywhere if isinstance(anywhere, Rejection) else None,
        )
    if all_or_nothing and len(existing_domains) > 1:
        return Rejection(
            request.job,
            "volume-topology-conflict",
            f"Job {request.job}'s shared volumes are in "
            f"{' and '.join(map(describe_storage_domain, existing_domains))}: "
            "no node reaches them all",
            filter_metrics(list(view), constraint_filters(request)),
        )

    first_failure: Rejection | None = None
    for domain in roomy or domains[:1]:
        result = in_domain(domain)
        if isinstance(result, PlanResult):
            return replace(
                result,
                shared_volume_domain=domain,
                shared_allocation_delta={domain: growth} if growth else {},
            )
        first_failure = first_failure or result
    if first_failure is None:  # no node has shared storage: say so, as for any constraint
        return in_domain(None)
    # No domain with the volumes' room can take the job. Blame the volumes
    # only if the job would fit were it free to spread over domains.
    anywhere = in_domain(None)
    if isinstance(anywhere, Rejection):
        return anywhere
    names = ", ".join(volume.name for volume in request.shared_volumes)
    if existing_domains:
        where = describe_storage_domain(existing_domains[0])
        detail = (
            f"Job {request.job}'s shared volumes ({names}) are in {where}, "
            f"and {where} cannot take its instances: {first_failure.detail}"
        )
    else:
        detail = (
            f"No single zone can hold all {request.count} instances of job {request.job} "
            f"with its shared volumes ({names}); in the likeliest, "
            f"{describe_storage_domain((roomy or domains)[0])}: {first_failure.detail}"
        )
    return Rejection(request.job, "volume-topology-conflict", detail, first_failure.metrics)


def _domains_by_preference(request: PlacementRequest, view: ClusterView) -> list[str]:
    """Storage domains ordered by the score of their best node for the job's first instance."""
    rankers = _rankers(view, BinPack(request.memory, request.disk, request.cpu))
    constraints = constraint_filters(request)
    best: dict[str, float] = {}
    for node in view:
        domain = node.storage_domain
        if domain is None or not node.schedulable:
            continue
        if not all(constraint.passes(node) for constraint in constraints):
            continue
        if (
            node.free_memory < request.memory
            or node.free_disk < request.disk
            or node.free_cpu < request.cpu
        ):
            score = float("-inf")  # still a domain: its other nodes or later room may do
        else:
            candidate = Candidate(node, node.free_memory, node.free_disk, 0, node.free_cpu)
            score = total_score(rankers, candidate)
        best[domain] = max(best.get(domain, float("-inf")), score)
    return sorted(best, key=lambda domain: (-best[domain], domain))


def _plan_in_domain(planning: _Planning, storage_domain: str | None) -> PlanResult | Rejection:
    """Plan the job on the nodes that pass its constraints (and reach `storage_domain`)."""
    request, existing, view = planning.request, planning.existing, planning.view
    instance_states, previous_pod = planning.instance_states, planning.previous_pod
    memory, disk, cpu = request.memory, request.disk, request.cpu
    diff = reconcile(request.count, existing, instance_states)
    placements = existing.placements if existing is not None else {}
    scratch = _Scratch(
        view=view,
        constraints=constraint_filters(request, storage_domain),
        pod=request.pod,
        old_pod=previous_pod if previous_pod is not None else request.pod,
        before=Counter(placements.values()),
    )
    kept = _keep_in_place(diff.keep, placements, scratch)

    candidates = [
        Candidate(node, free_memory, free_disk, kept.counts[node.name], free_cpu)
        for node, free_memory, free_disk, free_cpu in scratch.rooms(kept.counts)
        if free_memory >= memory and free_disk >= disk and free_cpu >= cpu
    ]
    rankers = _rankers(view, BinPack(memory, disk, cpu), JobAntiAffinity(request.count))
    heap = [(-total_score(rankers, c), c.node.name, c) for c in candidates]
    heapify(heap)
    fits = (EnoughMemory(memory), EnoughDisk(disk), EnoughCpu(cpu))

    placed: dict[int, str] = {}
    must = sorted(diff.place + kept.displaced)
    if planning.all_or_nothing:
        if _fill(must, heap, rankers, fits, placed):
            return explain_shortfall(
                request, len(must), scratch.constraints, scratch.every_room(kept.counts)
            )
        unplaced = _fill(kept.lost, heap, rankers, fits, placed)
    else:
        unplaced = _fill(sorted(must + kept.lost), heap, rankers, fits, placed)

    now_on = kept.counts + Counter(placed.values())
    pending: dict[int, str] = {}
    if unplaced:
        why = explain_shortfall(
            request, len(unplaced), scratch.constraints, scratch.every_room(now_on)
        )
        # The detail alone, for the REASON cell of `ozy get instances`: each of its
        # clauses names its own dimension, so the title would only add width.
        pending = dict.fromkeys(unplaced, why.detail)

    schedule = Schedule(
        job=request.job,
        placements=dict(sorted((kept.placements | placed).items())),
        pending=pending,
    )
    return PlanResult(
        schedule=schedule,
        placed=placed,
        stopped=diff.stop,
        allocation_delta=scratch.delta(now_on),
    )


def _rankers(view: ClusterView, *rankers: Ranker) -> list[Ranker]:
    """`rankers`, and the load penalty if any node is busy (it scores 0 everywhere else)."""
    return [*rankers, LoadPenalty()] if view.any_busy else list(rankers)


@dataclass(frozen=True, slots=True)
class _Scratch:
    """The room a plan works with: the view's, after the job's instances release their old size.

    Every node that held the job gives back `before[node]` pods of `old_pod`;
    the plan then charges the new `pod` size for each instance it leaves or
    puts there.
    """

    view: ClusterView
    constraints: Sequence[ConstraintFilter]
    pod: Resources
    old_pod: Resources
    before: Counter[str]

    def released(self, node: NodeView) -> tuple[int, int, int]:
        """The node's free (memory, disk, cpu) once the job's existing instances there are gone."""
        count = self.before[node.name]
        return (
            node.free_memory + count * self.old_pod.memory,
            node.free_disk + count * self.old_pod.disk,
            node.free_cpu + count * self.old_pod.cpu,
        )

    def rooms(self, counts: Mapping[str, int]) -> Iterator[Room]:
        """(node, free memory, free disk, free cpu) for each schedulable node passing the
        constraints, holding `counts[node]` instances of the job at the new size."""
        schedulable = NodeIsSchedulable()
        constraints = self.constraints
        for node in self.view:
            if not schedulable.passes(node):
                continue
            if constraints and not all(constraint.passes(node) for constraint in constraints):
                continue
            yield self._room(node, counts)

    def every_room(self, counts: Mapping[str, int]) -> list[Room]:
        """As `rooms`, for every node in the view: what a rejection explains itself from."""
        return [self._room(node, counts) for node in self.view]

    def _room(self, node: NodeView, counts: Mapping[str, int]) -> Room:
        name = node.name
        if name not in self.before and name not in counts:
            return node, node.free_memory, node.free_disk, node.free_cpu
        free_memory, free_disk, free_cpu = self.released(node)
        count, pod = counts.get(name, 0), self.pod
        return (
            node,
            free_memory - count * pod.memory,
            free_disk - count * pod.disk,
            free_cpu - count * pod.cpu,
        )

    def delta(self, counts: Mapping[str, int]) -> dict[str, Resources]:
        """Per node whose allocation changes, the change once it holds `counts[node]` instances."""
        delta = {}
        for name in sorted(self.before.keys() | counts.keys()):
            now, was = counts.get(name, 0), self.before[name]
            change = self.pod * now - self.old_pod * was
            if change.memory or change.disk or change.cpu:
                delta[name] = change
        return delta


@dataclass(frozen=True, slots=True)
class _Kept:
    placements: dict[int, str]  # instances staying where they are: index -> node
    counts: Counter[str]  # how many of them on each node
    displaced: list[int]  # moved by this change: must be placed again
    lost: list[int]  # already pending, or on a node that is gone: placed again if they fit


def _keep_in_place(keep: Sequence[int], placements: Mapping[int, str], scratch: _Scratch) -> _Kept:
    kept = _Kept(placements={}, counts=Counter(), displaced=[], lost=[])
    on_node: dict[str, list[int]] = {}
    for index in keep:
        if index in placements:
            on_node.setdefault(placements[index], []).append(index)
        else:
            kept.lost.append(index)
    resized = scratch.pod != scratch.old_pod
    for name, indices in on_node.items():
        node = scratch.view.get(name)
        if node is None or not node.alive:
            kept.lost.extend(indices)
            continue
        if not all(constraint.passes(node) for constraint in scratch.constraints):
            kept.displaced.extend(indices)
            continue
        fit = len(indices)
        if resized:
            free_memory, free_disk, free_cpu = scratch.released(node)
            fit = min(
                fit,
                whole_pods(free_memory, scratch.pod.memory, fit),
                whole_pods(free_disk, scratch.pod.disk, fit),
                whole_pods(free_cpu, scratch.pod.cpu, fit),
            )
        kept.counts[name] = fit
        kept.placements.update((index, name) for index in indices[:fit])
        kept.displaced.extend(indices[fit:])
    kept.lost.sort()
    return kept


def _fill(
    indices: Sequence[int],
    heap: list[tuple[float, str, Candidate]],
    rankers: Sequence[Ranker],
    fits: tuple[EnoughMemory, EnoughDisk, EnoughCpu],
    placed: dict[int, str],
) -> list[int]:
    """Place each index on the best-ranked candidate; return the indices that found none.

    Only the chosen candidate's score changes, so it is re-scored and sifted
    back into the heap (or dropped once full): O(log nodes) per instance.
    """
    fits_memory, fits_disk, fits_cpu = fits
    for position, index in enumerate(indices):
        if not heap:
            return list(indices[position:])
        candidate = heap[0][2]
        placed[index] = candidate.node.name
        candidate.free_memory -= fits_memory.memory
        candidate.free_disk -= fits_disk.disk
        candidate.free_cpu -= fits_cpu.cpu
        candidate.collisions += 1
        fits_more = fits_memory.passes(candidate) and fits_disk.passes(candidate)
        if fits_more and fits_cpu.passes(candidate):
            heapreplace(heap, (-total_score(rankers, candidate), candidate.node.name, candidate))
        else:
            heappop(heap)
    return []
