"""The cluster as etcd holds it: nodes, allocations, jobs and schedules, read at one revision."""

from __future__ import annotations

import asyncio

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule
from ozymandias.jobs.planning import pod_size
from ozymandias.scheduling.invariants import check_invariants
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd


async def read_cluster(
    url: str,
) -> tuple[dict[str, Node], dict[str, Resources], dict[str, JobRecord], dict[str, Schedule]]:
    """Nodes, allocations, jobs and schedules as etcd has them, read at one revision."""
    etcd = Etcd(url)
    try:
        _, (nodes, allocations, jobs, schedules) = await etcd.read_ranges(
            [keys.NODES, keys.ALLOCATIONS, keys.JOBS, keys.SCHEDULES]
        )
    finally:
        await etcd.close()
    return (
        {keys.name_after(keys.NODES, kv.key): Node.from_json(kv.value) for kv in nodes},
        {
            keys.name_after(keys.ALLOCATIONS, kv.key): Resources.from_json(kv.value)
            for kv in allocations
        },
        {keys.name_after(keys.JOBS, kv.key): JobRecord.from_json(kv.value) for kv in jobs},
        {keys.name_after(keys.SCHEDULES, kv.key): Schedule.from_json(kv.value) for kv in schedules},
    )


def invariant_violations(endpoints: str) -> list[str]:
    """The scheduler's invariants over etcd, read at one revision."""
    nodes, allocations, jobs, schedules = asyncio.run(read_cluster(endpoints))
    pod_sizes = {name: pod_size(job.spec) for name, job in jobs.items()}
    capacities = {name: node.capacity for name, node in nodes.items()}
    violations = check_invariants(capacities, allocations, schedules.values(), pod_sizes)
    for name, job in jobs.items():
        schedule = schedules.get(name)
        # A deployment's surge instances are extra; the others are the job's count (their
        # indices need not be 0..n-1: a new instance of a deployment takes a new one).
        surge = schedule.surge if schedule else {}
        placed = sorted(i for i in schedule.placements if i not in surge) if schedule else []
        pending = sorted(schedule.pending) if schedule else []
        if job.spec.is_system:
            # No count: one instance per node, each index the one of its node.
            on = [schedule.placements[i] for i in placed] if schedule else []
            owned = schedule.nodes if schedule else {}
            if len(set(on)) != len(on) or any(i not in owned for i in placed + pending):
                violations.append(f"{name}: placed {placed} on {on}, nodes {owned}")
        elif len(set(placed + pending)) != job.spec.num_instances or set(placed) & set(pending):
            violations.append(f"{name}: placed {placed} and pending {pending}")
    return violations
