"""What a submit, scale or new version writes, planned from `PlanningInputs` (pure).

`JobService` (service.py) reads the inputs, calls these on a worker thread
and commits what they return; on a lost race it reads again and calls them
again, so they must not touch anything outside their arguments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    JobRecord,
    JobVersion,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.deployments.begin import begin_version, version_entry
from ozymandias.deployments.schedules import (
    drop_surge,
    merge_deltas,
    with_rollout_state,
    without_surge,
)
from ozymandias.jobs.errors import JobRejected
from ozymandias.scheduling.explain import Rejection
from ozymandias.scheduling.place import PlanResult, plan_all_or_nothing
from ozymandias.scheduling.preemption import (
    Preemptible,
    PreemptingPlan,
    eligible,
    may_preempt,
    plan_system_with_preemption,
    plan_with_preemption,
    preempted_schedules,
)
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.system import plan_system
from ozymandias.scheduling.view import ClusterView
from ozymandias.spec.models import JobSpec
from ozymandias.store.planning_inputs import PlanningInputs


@dataclass(frozen=True)
class Placement:
    """A plan, and what it writes with it: the job's shared-volume records, and for a new
    version its deployment and history entry."""

    result: PlanResult
    volumes: list[SharedVolume]
    deployment: Deployment | None = None
    new_version: JobVersion | None = None
    # The instances of other jobs the plan stops to make room, and those jobs' new schedules.
    victims: tuple[Preemptible, ...] = ()
    preempted: dict[str, Schedule] = field(default_factory=dict)


def ended_status(record: JobRecord, deployment: Deployment | None) -> DeploymentStatus | None:
    """How the deployment of `record`'s version ended, if it has."""
    if deployment is None or deployment.version != record.version or deployment.status.active:
        return None
    return deployment.status


def pod_size(spec: JobSpec) -> Resources:
    return Resources(memory=spec.pod_memory, disk=spec.pod_disk, cpu=spec.pod_cpu)


def next_version(
    current: JobRecord, inputs: PlanningInputs, **changes: Any
) -> tuple[JobRecord, Placement]:
    """The job's next version, of the same spec, rolled out as any new version."""
    record = current.model_copy(update={"version": current.version + 1, **changes})
    return new_version(record, inputs, pod_size(current.spec))


def new_version(
    record: JobRecord,
    inputs: PlanningInputs,
    previous_pod: Resources | None,
    *,
    revert_of: int = 0,
    satisfied_by: list[int] | None = None,
    reason: str = "",
) -> tuple[JobRecord, Placement]:
    """Plan a new version: a running deployment's surge instances go (their old instances
    still run), the kept instances stay on the version they run, and a deployment starts."""
    before = inputs.schedule
    freed: dict[str, Resources] = {}
    if before is not None and before.surge and inputs.job is not None:
        before, freed = drop_surge(before, pod_size(inputs.job.spec))
        inputs = replace(inputs, schedule=before)
    placement = place(record.spec, inputs, previous_pod)
    result = placement.result
    record, schedule, deployment = begin_version(
        inputs.job,
        before,
        record,
        result.schedule,
        result.placed,
        time.time(),
        revert_of=revert_of,
        satisfied_by=satisfied_by or (),
    )
    if reason:
        deployment = deployment.model_copy(
            update={"description": f"reverting version {revert_of}: {reason}"}
        )
    result = replace(
        result,
        schedule=schedule,
        allocation_delta=merge_deltas(freed, result.allocation_delta),
    )
    return record, replace(
        placement, result=result, deployment=deployment, new_version=version_entry(record)
    )


def place(spec: JobSpec, inputs: PlanningInputs, previous_pod: Resources | None) -> Placement:
    existing = inputs.job_volumes()
    deleting = [
        existing[name].full_name
        for name in spec.shared_volumes
        if name in existing and existing[name].deleting
    ]
    if deleting:
        raise JobRejected(
            "volume-being-deleted",
            "Shared volume is being deleted",
            f"shared volume {', '.join(deleting)} is being removed; submit again once "
            "`ozy get volumes` no longer lists it",
            status=409,
        )
    view = ClusterView.from_records(
        inputs.nodes, inputs.allocated(), inputs.cordoned, inputs.shared_allocated()
    )
    if spec.is_system:
        return _place_system(spec, inputs, view, previous_pod)
    request = request_from_spec(spec, existing)
    schedule = without_surge(inputs.schedule)
    victims: tuple[Preemptible, ...] = ()
    result: PlanResult | PreemptingPlan | Rejection
    if may_preempt("service", spec.priority, inputs.preempting_types):
        result = plan_with_preemption(
            request,
            schedule,
            view,
            eligible(preemptible(inputs), spec.priority),
            instance_states=inputs.instance_states,
            previous_pod=previous_pod,
        )
        if isinstance(result, PreemptingPlan):
            victims = result.victims
            result = result.plan
    else:
        result = plan_all_or_nothing(
            request,
            schedule,
            view,
            instance_states=inputs.instance_states,
            previous_pod=previous_pod,
        )
    if isinstance(result, Rejection):
        raise JobRejected(
            result.kind, result.title, result.detail, placement=result.metrics.to_json()
        )
    result = replace(result, schedule=with_rollout_state(inputs.schedule, result.schedule))
    schedules = {name: other.schedule for name, other in inputs.others.items()}
    return Placement(
        result,
        volume_records(spec, existing, result.shared_volume_domain),
        victims=victims,
        preempted=preempted_schedules(victims, schedules, spec.name, spec.priority),
    )


def _place_system(
    spec: JobSpec, inputs: PlanningInputs, view: ClusterView, previous_pod: Resources | None
) -> Placement:
    """Never refused for room: a node without it shows a pending instance, as the issue asks,
    and gets it once room appears (see jobs/system_jobs.py), or at once where lower-priority
    instances may be preempted for it (`--preemption system`, the default)."""
    request, schedule = request_from_spec(spec), without_surge(inputs.schedule)
    victims: tuple[Preemptible, ...] = ()
    planned: PlanResult | PreemptingPlan
    if may_preempt("system", spec.priority, inputs.preempting_types):
        candidates = eligible(preemptible(inputs), spec.priority)
        planned = plan_system_with_preemption(
            request, schedule, view, candidates, previous_pod=previous_pod
        )
        if isinstance(planned, PreemptingPlan):
            victims, planned = planned.victims, planned.plan
    else:
        planned = plan_system(request, schedule, view, previous_pod=previous_pod)
    planned = replace(planned, schedule=with_rollout_state(inputs.schedule, planned.schedule))
    schedules = {name: other.schedule for name, other in inputs.others.items()}
    return Placement(
        planned,
        [],
        victims=victims,
        preempted=preempted_schedules(victims, schedules, spec.name, spec.priority),
    )


def preemptible(inputs: PlanningInputs) -> list[Preemptible]:
    """The placed instances of the other jobs, with their priorities and pod sizes. A job in
    the middle of a deployment is left alone: its rollout counts on the instances it has. So
    is a system job: its instance belongs on that node, and would only come back pending."""
    return [
        Preemptible(name, index, node, other.job.spec.priority, pod_size(other.job.spec))
        for name, other in sorted(inputs.others.items())
        if not other.deploying and not other.schedule.surge and not other.job.spec.is_system
        for index, node in sorted(other.schedule.placements.items())
    ]


def volume_records(
    spec: JobSpec, existing: Mapping[str, SharedVolume], domain: str | None
) -> list[SharedVolume]:
    """The shared-volume records a plan writes: new volumes in `domain`, and resized ones."""
    records = []
    now = time.time()
    for name, size in sorted(spec.shared_volumes.items()):
        volume = existing.get(name)
        if volume is None:
            if domain is None:
                continue  # no instance placed yet: created with the first one
            records.append(
                SharedVolume(job=spec.name, name=name, size=size, domain=domain, created_at=now)
            )
        elif volume.size != size:
            records.append(volume.model_copy(update={"size": size}))
    return records
