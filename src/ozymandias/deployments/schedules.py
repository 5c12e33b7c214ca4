"""A schedule's rollout state across plans: versions pinned per index, and surge instances.

The scheduler plans from placements and pending instances only. A deployment
adds two things to a schedule (see `Schedule.versions` and `Schedule.surge`):
the older version some instances still run, and the new instances started
beside the old ones. Surge instances are not the job's count, so they are
left out of a plan (their allocation untouched) and put back after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ozymandias.cluster.records import Resources, Schedule


def without_surge(schedule: Schedule | None) -> Schedule | None:
    """The schedule a scale or re-placement plans from: surge instances left out, but their
    indices still taken (reconcile reads `surge`)."""
    if schedule is None or not schedule.surge:
        return schedule
    placements = {i: n for i, n in schedule.placements.items() if i not in schedule.surge}
    return schedule.model_copy(update={"placements": placements})


def with_rollout_state(before: Schedule | None, after: Schedule) -> Schedule:
    """`after`, a plan's schedule, with the pins and surge instances `before` had."""
    if before is None or not (before.versions or before.surge):
        return after
    placements = dict(after.placements)
    surge = {}
    for index, replaces in before.surge.items():
        if index in before.placements:
            placements[index] = before.placements[index]
            surge[index] = replaces
    present = placements.keys() | after.pending.keys()
    versions = {i: v for i, v in before.versions.items() if i in present}
    return after.model_copy(
        update={
            "placements": dict(sorted(placements.items())),
            "versions": versions,
            "surge": surge,
        }
    )


def drop_surge(schedule: Schedule, pod: Resources) -> tuple[Schedule, dict[str, Resources]]:
    """The schedule without its surge instances, and what that frees on their nodes."""
    freed: dict[str, Resources] = {}
    placements = dict(schedule.placements)
    for index in schedule.surge:
        node = placements.pop(index, None)
        if node is not None:
            freed[node] = freed.get(node, Resources()) - pod
    versions = {i: v for i, v in schedule.versions.items() if i not in schedule.surge}
    return (
        schedule.model_copy(update={"placements": placements, "surge": {}, "versions": versions}),
        freed,
    )


def merge_deltas(*deltas: Mapping[str, Resources]) -> dict[str, Resources]:
    """Allocation changes added up per node; nodes left unchanged are dropped."""
    total: dict[str, Resources] = {}
    for delta in deltas:
        for node, change in delta.items():
            total[node] = total.get(node, Resources()) + change
    return {node: change for node, change in sorted(total.items()) if change != Resources()}
