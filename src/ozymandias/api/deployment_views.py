"""The JSON shapes of deployments, built from cluster records (pure).

Declared as models, so the OpenAPI document describes each field (and the
fuzzing test checks every answer against it); they render in camelCase like
the rest of the API.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ozymandias.api.views import instance_view
from ozymandias.cluster.records import Deployment, InstanceStatus, JobRecord, Schedule


class _View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class DeploymentSummary(_View):
    job: str
    version: int
    status: str = Field(description="running, paused, successful, failed or reverted")
    active: bool = Field(description="running or paused: it may still change")
    description: str = Field(description="what it waits for, or how it ended")
    desired: int = Field(description="instances of the new version it is to run")
    placed: int = Field(description="instances of the new version it has started")
    healthy: int = Field(description="of those, how many counted healthy")
    unhealthy: int
    canary: int = Field(description="canaries the update block asks for")
    promoted: bool
    max_parallel: int
    auto_revert: bool
    auto_promote: bool
    fail_requested: str = Field(description="who asked to fail it, if anyone")
    revert_of: int = Field(description="the failed version it reverts; 0 for none")
    failed_instance: str = Field(description="the instance that failed it, and why")
    created_at: float
    updated_at: float


class DeploymentInstance(_View):
    """One instance as a deployment sees it: which version it should run, and which it runs."""

    name: str
    index: int
    node: str = Field(description="empty while it is not placed")
    version: int = Field(description="the job version it should run")
    running_version: int | None = Field(description="the version its node reports; None before")
    state: str
    health: str
    reason: str
    restarts: int
    canary: bool = Field(description="a new instance beside the old ones, not yet promoted")
    replaces: int | None = Field(
        description="the index of the old instance this new one replaces once healthy"
    )


class DeploymentDetail(DeploymentSummary):
    instances: list[DeploymentInstance]


def deployment_summary(deployment: Deployment) -> DeploymentSummary:
    update = deployment.update
    return DeploymentSummary(
        job=deployment.job,
        version=deployment.version,
        status=deployment.status.value,
        active=deployment.status.active,
        description=deployment.description,
        desired=deployment.desired,
        placed=len(deployment.placed),
        healthy=len(deployment.healthy),
        unhealthy=deployment.unhealthy,
        canary=update.canary,
        promoted=deployment.promoted,
        max_parallel=update.max_parallel,
        auto_revert=update.auto_revert,
        auto_promote=update.auto_promote,
        fail_requested=deployment.fail_requested,
        revert_of=deployment.revert_of,
        failed_instance=deployment.failed_instance,
        created_at=deployment.created_at,
        updated_at=deployment.updated_at,
    )


def deployment_instances(
    job: JobRecord, schedule: Schedule | None, statuses: Iterable[InstanceStatus]
) -> list[DeploymentInstance]:
    """Every placed instance of the job (by index), then the pending ones."""
    if schedule is None:
        return []
    by_index = {status.index: status for status in statuses}
    placed = [
        instance_view(job.spec.name, index, node, by_index.get(index))
        for index, node in sorted(schedule.placements.items())
    ]
    pending = [
        {**instance_view(job.spec.name, index, "", None), "reason": reason}
        for index, reason in sorted(schedule.pending.items())
    ]
    rows = []
    for shown in placed + pending:
        index = shown["index"]
        surge = schedule.surge.get(index)
        rows.append(
            DeploymentInstance(
                name=shown["name"],
                index=index,
                node=shown["node"],
                version=schedule.version_of(index, job.version),
                # instance_view shows 0 until the node reports on the instance.
                running_version=shown["specVersion"] or None,
                state=shown["state"],
                health=shown["health"],
                reason=shown["reason"],
                restarts=shown["restarts"],
                canary=surge == -1,
                replaces=surge if surge is not None and surge >= 0 else None,
            )
        )
    return rows


def deployment_detail(
    deployment: Deployment,
    job: JobRecord,
    schedule: Schedule | None,
    statuses: Iterable[InstanceStatus],
) -> DeploymentDetail:
    return DeploymentDetail(
        **deployment_summary(deployment).model_dump(),
        instances=deployment_instances(job, schedule, statuses),
    )
