"""Emptying a drained node, job by job (pure).

A drain moves a job's instances off the node through a deployment of the
job's current version, so each moves surge-first: the new instance healthy
elsewhere before the old one goes (rollout.py counts instances on a
draining node as outdated, and never replaces them in place). What is left
once the drain's deadline passes, or at once with `--force`, is stopped
here and left pending, for the `Replacer` to place wherever there is room.

A system job's instance belongs to its node and moves nowhere: it stops last,
once no service job has an instance on the node (or the deadline passed), so
the node's log shipper or exporter serves its other instances to the end.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from ozymandias.cluster.records import Deployment, Drain, JobRecord, Resources, Schedule
from ozymandias.deployments.schedules import merge_deltas

_T = TypeVar("_T")


def on_nodes(schedule: Schedule, nodes: Collection[str]) -> list[int]:
    """The job's instances placed on any of `nodes`."""
    return sorted(index for index, node in schedule.placements.items() if node in nodes)


def drain_deployment(record: JobRecord, nodes: Collection[str], now: float) -> Deployment:
    """The deployment that moves a job's instances off draining `nodes` (no canaries)."""
    return Deployment(
        job=record.spec.name,
        version=record.version,
        update=record.spec.update.model_copy(update={"canary": 0}),
        created_at=now,
        updated_at=now,
        last_progress_at=now,
        satisfied_by=[],
        desired=record.spec.num_instances,
        description=f"moving instances off {', '.join(sorted(nodes))} (drain)",
    )


def stop_drained(
    schedule: Schedule, drains: Mapping[str, Drain], pod: Resources, now: float
) -> tuple[Schedule, dict[str, Resources], list[int]] | None:
    """Stop what is left on nodes whose drain expired: (schedule, allocation delta, stopped).

    A surge instance there simply goes, and so does an instance whose replacement runs
    elsewhere; any other is left pending, to be placed again.
    """
    expired = {node for node, drain in drains.items() if drain.expired(now)}
    stopped = on_nodes(schedule, expired)
    if not stopped:
        return None
    placements = dict(schedule.placements)
    pending = dict(schedule.pending)
    surge = dict(schedule.surge)
    versions = dict(schedule.versions)
    delta: dict[str, Resources] = {}
    # An instance whose replacement already runs elsewhere needs no other.
    replaced = {old for new, old in surge.items() if new not in stopped}
    for index in stopped:
        node = placements.pop(index)
        delta = merge_deltas(delta, {node: Resources() - pod})
        versions.pop(index, None)
        if surge.pop(index, None) is None and index not in replaced:
            pending[index] = f"stopped by the drain of node {node}"
    # A surge instance elsewhere whose old instance was stopped is simply one of the job's.
    surge = {new: old for new, old in surge.items() if old not in stopped}
    updated = schedule.model_copy(
        update={"placements": placements, "pending": pending, "surge": surge, "versions": versions}
    )
    return updated, delta, stopped


def system_ready_to_stop(
    drains: Mapping[str, Drain], service_schedules: Collection[Schedule], now: float
) -> list[str]:
    """The draining nodes a system job's instance may now stop on: every service instance
    has left them, or their drain's deadline passed."""
    busy = {node for schedule in service_schedules for node in schedule.placements.values()}
    return sorted(node for node, drain in drains.items() if drain.expired(now) or node not in busy)


def stop_system_on(
    schedule: Schedule, nodes: Collection[str], pod: Resources
) -> tuple[Schedule, dict[str, Resources], list[int]] | None:
    """A system job without its instances on `nodes`: (schedule, allocation delta, stopped).

    They are not left pending: a drained node is cordoned, so it is not eligible.
    """
    stopped = on_nodes(schedule, nodes)
    if not stopped:
        return None
    delta: dict[str, Resources] = {}
    for index in stopped:
        delta = merge_deltas(delta, {schedule.placements[index]: Resources() - pod})
    gone = set(stopped)

    def kept(mapping: Mapping[int, _T]) -> dict[int, _T]:
        return {index: value for index, value in mapping.items() if index not in gone}

    updated = schedule.model_copy(
        update={
            "placements": kept(schedule.placements),
            "nodes": kept(schedule.nodes),
            "versions": kept(schedule.versions),
        }
    )
    return updated, delta, stopped
