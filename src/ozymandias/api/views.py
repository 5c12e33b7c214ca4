"""JSON shapes the API returns, built from cluster records (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import yaml

from ozymandias.api.problems import problem_type
from ozymandias.cluster.compact_status import CompactStatus, expand_container
from ozymandias.cluster.records import (
    Event,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    NodeVolumes,
    Resources,
    SharedVolume,
    describe_storage_domain,
    instance_name,
    system_instance_name,
)
from ozymandias.ingress.routes import Backend, Routes
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.service import ApplyResult
from ozymandias.plans.instance_changes import InstanceChange, counts, instance_changes
from ozymandias.plans.notation import spec_notation
from ozymandias.plans.spec_diff import diff_specs, diff_to_json
from ozymandias.scheduling.preemption import Preemptible
from ozymandias.spec.loader import dump_job
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_mirrors import ClusterMirrors


def instance_view(
    job: str,
    index: int,
    node: str,
    status: InstanceStatus | CompactStatus | None,
    *,
    system: bool = False,
) -> dict[str, Any]:
    """One instance as users see it; `pending` until its node reports on it. A system job's
    is named after its node (which a pending one waits for)."""
    reported = status is not None and status.node == node
    return {
        "name": system_instance_name(job, node) if system else instance_name(job, index),
        "job": job,
        "index": index,
        "node": node,
        "state": status.state.value if reported and status else InstanceState.PENDING.value,
        "health": status.health.value if reported and status else "",
        "reason": status.reason if reported and status else "",
        "restarts": status.restarts if reported and status else 0,
        "specVersion": status.spec_version if reported and status else 0,
        "podIP": status.pod_ip if reported and status else "",
        "updatedAt": status.updated_at if reported and status else 0.0,
        "containers": [expand_container(c).model_dump(by_alias=True) for c in status.containers]
        if reported and status
        else [],
    }


def instances_of(job: str, mirrors: ClusterMirrors) -> list[dict[str, Any]]:
    schedule = mirrors.schedule(job)
    if schedule is None:
        return []
    statuses = {status.index: status for status in mirrors.compact_statuses(job)}
    record = mirrors.job(job)
    system = record is not None and record.spec.is_system
    placed = [
        instance_view(job, index, node, statuses.get(index), system=system)
        for index, node in sorted(schedule.placements.items())
    ]
    unplaced = [
        {
            **instance_view(job, index, schedule.nodes.get(index, ""), None, system=system),
            "reason": reason,
        }
        for index, reason in sorted(schedule.pending.items())
    ]
    # An instance carries its job's labels, as a pod its template's: `-l` selects by them.
    labels = dict(record.spec.labels) if record else {}
    return [{**item, "labels": labels} for item in placed + unplaced]


def job_summary(record: JobRecord, mirrors: ClusterMirrors) -> dict[str, Any]:
    instances = instances_of(record.spec.name, mirrors)
    states = Counter(item["state"] for item in instances)
    schedule = mirrors.schedule(record.spec.name)
    placed = len(schedule.placements) if schedule is not None else 0
    return {
        "name": record.spec.name,
        "type": record.spec.type,
        "labels": dict(record.spec.labels),
        "priority": record.spec.priority,
        # A system job's count is its eligible nodes', placed or pending for want of room.
        "numInstances": len(instances) if record.spec.is_system else record.spec.num_instances,
        "placed": placed,
        "version": record.version,
        "states": dict(sorted(states.items())),
        "running": states.get(InstanceState.RUNNING.value, 0),
        "submittedAt": record.submitted_at,
    }


def since_its_creation(events: list[Event]) -> list[Event]:
    """A job's events after the last deletion of a job of its name: this job's own."""
    deleted = [i for i, event in enumerate(events) if event.kind == "job-deleted"]
    return events[deleted[-1] + 1 :] if deleted else events


def job_detail(record: JobRecord, mirrors: ClusterMirrors, events: list[Event]) -> dict[str, Any]:
    schedule = mirrors.schedule(record.spec.name)
    return {
        **job_summary(record, mirrors),
        "spec": dump_job(record.spec),
        # The spec as its user wrote it (64M, "80:3000", no defaults), as `ozy describe job`
        # shows it: for the dashboard, which has no YAML library.
        "specAsWritten": yaml.safe_dump(spec_notation(record.spec), sort_keys=False),
        "placements": dict(sorted(schedule.placements.items())) if schedule else {},
        "pending": dict(sorted(schedule.pending.items())) if schedule else {},
        "instances": instances_of(record.spec.name, mirrors),
        "events": [event.model_dump() for event in since_its_creation(events)],
    }


def apply_result(result: ApplyResult, warnings: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "warnings": list(warnings),
        "name": result.job.spec.name,
        "dryRun": result.dry_run,
        "created": result.created,
        "changed": result.changed,
        "version": result.job.version,
        "type": result.job.spec.type,
        "numInstances": len(result.schedule.placements) + len(result.schedule.pending)
        if result.job.spec.is_system
        else result.job.spec.num_instances,
        "placements": dict(sorted(result.schedule.placements.items())),
        "placed": dict(sorted(result.placed.items())),
        "stopped": sorted(result.stopped),
        "preempted": [preempted_view(victim) for victim in result.victims],
    }


def preempted_view(victim: Preemptible) -> dict[str, Any]:
    """An instance of another job that a plan stops to make room."""
    return {
        "name": instance_name(victim.job, victim.index),
        "job": victim.job,
        "index": victim.index,
        "node": victim.node,
        "priority": victim.priority,
    }


def job_plan(
    spec: JobSpec,
    previous: JobRecord | None,
    modify_index: int,
    outcome: ApplyResult | JobRejected,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """A plan's answer: the diff from `previous` to `spec` in the user's notation, what
    happens to each instance, or why it does not fit; and the modify index planned against."""
    diff = diff_specs(previous.spec if previous is not None else None, spec)
    changes: list[InstanceChange] = []
    victims: Sequence[Preemptible] = ()
    rejection = None
    if isinstance(outcome, JobRejected):
        changed = diff.changed
        placements: dict[int, str] = {}
        rejection = {
            "type": problem_type(outcome.kind),
            "title": outcome.title,
            "status": outcome.status,
            "detail": outcome.detail,
        }
    else:
        changed = outcome.changed
        placements = outcome.schedule.placements
        victims = outcome.victims
        changes = instance_changes(
            previous,
            outcome.previous_schedule,
            outcome.job,
            outcome.schedule,
            outcome.placed,
            outcome.stopped,
        )
    return {
        "warnings": list(warnings),
        "name": spec.name,
        "modifyIndex": modify_index,
        "created": previous is None,
        "changed": changed,
        "fits": rejection is None,
        "rejection": rejection,
        "version": previous.version if previous is not None else None,
        "newVersion": None if isinstance(outcome, JobRejected) else outcome.job.version,
        "diff": diff_to_json(diff),
        "instances": [
            {
                "name": system_instance_name(spec.name, change.node)
                if spec.is_system
                else instance_name(spec.name, change.index),
                "index": change.index,
                "action": change.action.value,
                "node": change.node,
                "previousNode": change.previous_node,
            }
            for change in changes
        ]
        # The other jobs' instances it stops, in the same list so `ozy plan` shows them with
        # the rest (their `job` tells them apart).
        + [
            {**preempted_view(victim), "action": "preempted", "previousNode": ""}
            for victim in victims
        ],
        "counts": {**counts(changes), **({"preempted": len(victims)} if victims else {})},
        "preempted": [preempted_view(victim) for victim in victims],
        "placements": dict(sorted(placements.items())),
    }


def node_view(
    node: Node,
    allocated: dict[str, Resources],
    cordoned: frozenset[str],
    draining: frozenset[str],
) -> dict[str, Any]:
    used = allocated.get(node.name, Resources())
    free = node.capacity - used
    return {
        "name": node.name,
        "address": node.address,
        "apiUrl": node.api_url,
        "labels": node.labels,
        "cordoned": node.name in cordoned,
        "status": node_status(node.name, cordoned, draining),
        "capacity": node.capacity.model_dump(),
        "allocated": used.model_dump(),
        "free": free.model_dump(),
        "sharedStorage": (
            {
                "domain": describe_storage_domain(node.storage_domain),
                "capacity": node.shared_storage.capacity,
            }
            if node.shared_storage is not None
            else None
        ),
        "startedAt": node.started_at,
        "load": node.load,
        "loadThreshold": node.load_threshold,
    }


def node_status(name: str, cordoned: frozenset[str], draining: frozenset[str]) -> str:
    """ready, cordoned (no new instances), or draining (being emptied; cordoned too)."""
    if name in draining:
        return "draining"
    return "cordoned" if name in cordoned else "ready"


def volumes_view(
    shared: list[SharedVolume], reports: list[NodeVolumes], mirrors: ClusterMirrors
) -> list[dict[str, Any]]:
    """Every volume: each job's shared volumes, and the local volumes the nodes report.

    `used` comes from the nodes' latest measurements (None until one is in).
    """
    shared_used: dict[tuple[str, str], tuple[float, int | None]] = {}
    local: list[dict[str, Any]] = []
    for report in reports:
        for usage in report.volumes:
            if usage.kind == "shared":
                key = (usage.job, usage.name)
                if key not in shared_used or shared_used[key][0] < report.measured_at:
                    shared_used[key] = (report.measured_at, usage.used)
                continue
            assert usage.index is not None
            schedule = mirrors.schedule(usage.job)
            owned = schedule is not None and schedule.placements.get(usage.index) == report.node
            local.append(
                {
                    "name": f"{instance_name(usage.job, usage.index)}/{usage.name}",
                    "job": usage.job,
                    "instance": instance_name(usage.job, usage.index),
                    "kind": "local",
                    "size": usage.size,
                    "used": usage.used,
                    "node": report.node,
                    "zone": None,
                    "state": "in-use" if owned and mirrors.job(usage.job) else "releasing",
                }
            )
    rows = []
    for volume in shared:
        job = mirrors.job(volume.job)
        in_use = job is not None and volume.name in job.spec.shared_volumes
        kind, _, where = volume.domain.partition("=")
        rows.append(
            {
                "name": volume.full_name,
                "job": volume.job,
                "instance": None,
                "kind": "shared",
                "size": volume.size,
                "used": shared_used.get((volume.job, volume.name), (0.0, None))[1],
                "node": where if kind == "node" else None,
                "zone": where if kind == "zone" else None,
                "state": "deleting" if volume.deleting else "in-use" if in_use else "kept",
                "createdAt": volume.created_at,
            }
        )
    return rows + sorted(local, key=lambda row: (row["job"], row["name"]))


def ingress_view(routes: Routes) -> dict[str, Any]:
    def backends(items: tuple[Backend, ...]) -> list[dict[str, Any]]:
        return [{"instance": b.instance, "address": f"{b.address}:{b.port}"} for b in items]

    return {
        "http": [
            {
                "job": route.job,
                "hosts": list(route.hosts),
                "port": route.port,
                "healthy": len(route.backends),
                "backends": backends(route.backends),
            }
            for route in routes.http
        ],
        "tcp": [
            {
                "port": route.port,
                "job": route.job,
                "targetPort": route.target_port,
                "healthy": len(route.backends),
                "backends": backends(route.backends),
            }
            for route in routes.tcp
        ],
        "conflicts": list(routes.conflicts),
    }


def sorted_jobs(mirrors: ClusterMirrors) -> list[JobRecord]:
    """Every job's record, by name."""
    return sorted(mirrors.jobs.items.values(), key=lambda record: record.spec.name)
