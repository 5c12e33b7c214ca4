"""Which instances a rebalance may move (pure): the inputs of `scheduling/rebalance.py`.

Never moved, as #17 asks:
- a job in a running or paused deployment (its instances are already changing);
- a surge instance (a canary or a replacement mid-rollout), and the instance it replaces;
- an instance still pinned to an older version (a failed rollout left it);
- a job with local volumes: its data lives on its node, and a moved instance
  would start empty; unless the job says `rebalance: true` (a cache, say);
- an instance not placed (pending): it has nowhere to move from;
- a system job's instance: it belongs to its node (and every eligible node has one).
"""

from __future__ import annotations

from ozymandias.cluster.records import Deployment, JobRecord, Schedule
from ozymandias.jobs.planning import pod_size
from ozymandias.scheduling.filters import constraint_filters
from ozymandias.scheduling.rebalance import MovableJob
from ozymandias.scheduling.request import request_from_spec


def movable_job(
    record: JobRecord, schedule: Schedule | None, deployment: Deployment | None
) -> MovableJob | None:
    """The job's instances that may move, or None when none may (and why is above)."""
    spec = record.spec
    if schedule is None or spec.is_system or (spec.local_volumes and not spec.rebalance):
        return None
    if deployment is not None and deployment.status.active:
        return None
    # A pinned instance runs an older version (a failed rollout left it): moved, it would
    # start at the job's version, so it waits for the job's next deployment.
    changing = set(schedule.surge) | set(schedule.surge.values()) | set(schedule.versions)
    placements = {
        index: node for index, node in schedule.placements.items() if index not in changing
    }
    if not placements:
        return None
    return MovableJob(
        spec.name, pod_size(spec), constraint_filters(request_from_spec(spec)), placements
    )
