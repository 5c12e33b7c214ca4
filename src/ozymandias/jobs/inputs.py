"""Reading one job's planning inputs, as every part that plans and commits a job does.

The mirrors are right almost always and cost nothing; after a lost race they
are likely behind, so etcd itself is read. Where the job may preempt, the
other jobs come too (their schedules are the possible victims); otherwise
none is read.
"""

from __future__ import annotations

from dataclasses import replace

from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.planning_inputs import PlanningInputs


async def planning_inputs(
    store: ClusterStore,
    mirrors: ClusterMirrors,
    name: str,
    *,
    fresh: bool,
    preempting_types: frozenset[str] = frozenset(),
) -> PlanningInputs:
    """Job `name`'s inputs, from etcd if `fresh`; with the other jobs and `preempting_types`
    when that is not empty (the job may preempt)."""
    if not preempting_types:
        if fresh:
            return await store.read_planning_inputs(name)
        return mirrors.planning_inputs(name)
    if fresh:
        inputs = await store.read_planning_inputs(name, with_others=True)
    else:
        inputs = replace(mirrors.planning_inputs(name), others=mirrors.other_jobs(name))
    return replace(inputs, preempting_types=preempting_types)
