"""Rebalancing (pure): which instances to move so allocation evens out across the nodes.

The design post wanted a new node to "take on some jobs from other nodes";
Nomad (#1635), Swarm (moby#24103) and Kubernetes without its descheduler give
it nothing until jobs are redeployed. This module only plans: it takes the
cluster as the scheduler sees it and the instances that may move, and returns
moves, each from a node above the cluster's mean allocation to one below it.

A node's share is its *dominant* one, as in DRF: the larger of its memory and
CPU allocated over capacity. The plan is greedy:

- the least-allocated node takes an instance from the most-allocated node that
  has one it may hold (the job's constraints pass there, it has room, and it
  does not end up with more of the job's instances than the source keeps);
- the largest such instance goes first, so few moves carry much;
- a node takes instances only up to the mean (moby#24103's worry that a new
  node is "mugged" by everything at once), and a source gives only while it
  stays above its target, so every move narrows the spread;
- nodes within `tolerance` of the mean are left alone.

Executing the moves (surge first, one per job at a time) is the deployer's
business; this module never writes.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from ozymandias.cluster.records import Resources
from ozymandias.scheduling.filters import ConstraintFilter
from ozymandias.scheduling.view import ClusterView, NodeView

# A share this close to another counts as equal: sums of floats drift.
_EPSILON = 1e-9
# How many of the most-allocated nodes one target looks through for an instance it may
# take, before it gives up: bounds the work when constraints rule most sources out.
_SOURCES_TRIED = 64


@dataclass(frozen=True, slots=True)
class MovableJob:
    """A job whose instances may move: its pod size, constraints and placements."""

    name: str
    pod: Resources
    constraints: Sequence[ConstraintFilter]
    placements: Mapping[int, str]  # index -> node, of the instances that may move


@dataclass(frozen=True, slots=True)
class Move:
    job: str
    index: int
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class RebalancePlan:
    """The moves, each eligible node's allocation before and after, and a lower bound on the
    number of moves any plan reaching the same evenness needs."""

    moves: list[Move]
    before: dict[str, Resources]
    after: dict[str, Resources]
    mean_share: float
    lower_bound: int


@dataclass(slots=True)
class _Node:
    view: NodeView
    memory: int  # allocated
    cpu: int
    disk: int
    instances: dict[str, list[int]] = field(default_factory=dict)  # job -> indices here

    def share(self, memory: int = 0, cpu: int = 0) -> float:
        """The dominant share, with `memory` and `cpu` more allocated."""
        view = self.view
        by_memory = (self.memory + memory) / view.capacity_memory if view.capacity_memory else 0.0
        by_cpu = (self.cpu + cpu) / view.capacity_cpu if view.capacity_cpu else 0.0
        return max(by_memory, by_cpu)

    def room_for(self, pod: Resources) -> bool:
        view = self.view
        return (
            self.memory + pod.memory <= view.capacity_memory
            and self.disk + pod.disk <= view.capacity_disk
            and self.cpu + pod.cpu <= view.capacity_cpu
        )


def plan_rebalance(
    view: ClusterView, jobs: Iterable[MovableJob], *, tolerance: float = 0.0
) -> RebalancePlan:
    """The moves that bring the eligible nodes' dominant shares toward the mean.

    Eligible nodes are the live, uncordoned ones. Nodes within `tolerance` (a
    fraction: 0.2 is 20 percentage points) of the mean are neither sources nor
    targets. Instances of jobs not given, and on other nodes, stay where they are
    but their allocation counts.
    """
    planner = _Planner(view, {job.name: job for job in jobs})
    before = planner.allocations()
    if not planner.nodes:
        return RebalancePlan([], before, dict(before), 0.0, 0)
    lower_bound = planner.lower_bound()
    moves = planner.run(tolerance)
    return RebalancePlan(moves, before, planner.allocations(), planner.mean, lower_bound)


class _Planner:
    def __init__(self, view: ClusterView, jobs: dict[str, MovableJob]) -> None:
        self.jobs = jobs
        self.nodes = {
            node.name: _Node(node, *_allocated(node))
            for node in view
            if node.schedulable and node.capacity_memory > 0
        }
        # A million instances pass through here: plain dicts and locals, no per-instance call.
        held = {name: node.instances for name, node in self.nodes.items()}
        self._movable_by_size: Counter[int] = Counter()  # pod memory -> instances that may move
        for job in jobs.values():
            job_name, placed = job.name, 0
            for index, name in job.placements.items():
                here = held.get(name)
                if here is not None:
                    indices = here.get(job_name)
                    if indices is None:
                        here[job_name] = [index]
                    else:
                        indices.append(index)
                    placed += 1
            self._movable_by_size[job.pod.memory] += placed
        self.mean = _mean_share(self.nodes.values())
        # Each node's jobs, largest pod first: a target takes the biggest that fits.
        size = {name: (job.pod.memory, job.pod.cpu) for name, job in jobs.items()}
        self.ordered = {
            name: sorted(node.instances, key=lambda job: size[job], reverse=True)
            for name, node in self.nodes.items()
        }
        # Their pods' memory, negated (ascending), to skip at once the pods too big to take.
        self.negated_sizes = {
            name: [-size[job][0] for job in jobs_here] for name, jobs_here in self.ordered.items()
        }
        self.sources = [(-node.share(), name) for name, node in self.nodes.items()]
        heapify(self.sources)
        self._allowed: dict[tuple[str, str], bool] = {}

    def allocations(self) -> dict[str, Resources]:
        return {
            name: Resources(memory=node.memory, disk=node.disk, cpu=node.cpu)
            for name, node in self.nodes.items()
        }

    def run(self, tolerance: float) -> list[Move]:
        targets = [(node.share(), name) for name, node in self.nodes.items()]
        heapify(targets)
        moves: list[Move] = []
        while targets:
            share, name = heappop(targets)
            target = self.nodes[name]
            if not math.isclose(share, target.share(), abs_tol=_EPSILON):
                heappush(targets, (target.share(), name))  # stale: it gave instances away
                continue
            if share >= self.mean - tolerance - _EPSILON:
                break  # every other target is at least as allocated
            move = self._take_one(target)
            if move is None:
                continue  # nothing may come here: the node stays as it is
            moves.append(move)
            heappush(targets, (target.share(), name))
        return moves

    def _take_one(self, target: _Node) -> Move | None:
        """Move one instance to `target` from the most-allocated node that has one it may
        hold; None when none of the `_SOURCES_TRIED` most-allocated has."""
        tried: list[str] = []
        move = None
        target_share = target.share()
        while self.sources and len(tried) < _SOURCES_TRIED:
            negative, name = heappop(self.sources)
            source = self.nodes[name]
            if not math.isclose(-negative, source.share(), abs_tol=_EPSILON):
                heappush(self.sources, (-source.share(), name))  # stale: it took instances
                continue
            tried.append(name)
            if -negative <= target_share + _EPSILON:
                break  # no source is more allocated than the target
            job = self._job_for(source, target)
            if job is not None:
                index = source.instances[job].pop()
                _shift(source, target, job, index, self.jobs[job].pod)
                move = Move(job, index, name, target.view.name)
                break
        for name in tried:
            heappush(self.sources, (-self.nodes[name].share(), name))
        return move

    def _job_for(self, source: _Node, target: _Node) -> str | None:
        """The job of the largest instance on `source` that `target` may take."""
        # What the target may take before passing the mean, or the source's share.
        view = target.view
        ceiling = min(self.mean, source.share())
        memory_room = ceiling * view.capacity_memory - target.memory
        cpu_room = ceiling * view.capacity_cpu - target.cpu if view.capacity_cpu else math.inf
        name = source.view.name
        first = bisect_left(self.negated_sizes[name], -memory_room)
        for job_name in itertools.islice(self.ordered[name], first, None):
            pod = self.jobs[job_name].pod
            if pod.memory > memory_room or pod.cpu > cpu_room + _EPSILON:
                continue  # past the mean, or past the source: the spread would not narrow
            # Spread never gets worse: the target ends with at most as many of the job's
            # instances as the source had.
            here = len(source.instances[job_name])
            if not here or len(target.instances.get(job_name, ())) >= here:
                continue
            job = self.jobs[job_name]
            if target.room_for(pod) and self._may_hold(job, target):
                return job_name
        return None

    def _may_hold(self, job: MovableJob, target: _Node) -> bool:
        key = (job.name, target.view.name)
        if key not in self._allowed:
            self._allowed[key] = all(rule.passes(target.view) for rule in job.constraints)
        return self._allowed[key]

    def lower_bound(self) -> int:
        """Moves any plan needs to bring every node to within the smallest movable pod of the
        mean by memory (the evenness the moves aim at): the fewest of the movable instances,
        largest first, whose memory adds up to the nodes' total shortfall."""
        sizes = sorted((size for size, count in self._movable_by_size.items() if count > 0))
        if not sizes or sizes[-1] <= 0:
            return 0
        short = sum(
            max(0.0, self.mean * node.view.capacity_memory - node.memory - sizes[0])
            for node in self.nodes.values()
        )
        carried = needed = 0
        for size in reversed(sizes):
            if size <= 0:
                break
            count = self._movable_by_size[size]
            taken = min(count, max(0, math.ceil((short - carried) / size)))
            carried += taken * size
            needed += taken
            if carried >= short:
                break
        return needed


def _shift(source: _Node, target: _Node, job: str, index: int, pod: Resources) -> None:
    source.memory -= pod.memory
    source.cpu -= pod.cpu
    source.disk -= pod.disk
    target.instances.setdefault(job, []).append(index)
    target.memory += pod.memory
    target.cpu += pod.cpu
    target.disk += pod.disk


def _allocated(node: NodeView) -> tuple[int, int, int]:
    return (
        node.capacity_memory - node.free_memory,
        node.capacity_cpu - node.free_cpu,
        node.capacity_disk - node.free_disk,
    )


def _mean_share(nodes: Iterable[_Node]) -> float:
    """The cluster's dominant share: the larger of all memory and all CPU allocated over all
    capacity (a node's fair share of the load, whatever its size)."""
    memory = capacity_memory = cpu = capacity_cpu = 0
    for node in nodes:
        memory += node.memory
        capacity_memory += node.view.capacity_memory
        cpu += node.cpu
        capacity_cpu += node.view.capacity_cpu
    by_memory = memory / capacity_memory if capacity_memory else 0.0
    by_cpu = cpu / capacity_cpu if capacity_cpu else 0.0
    return max(by_memory, by_cpu)
