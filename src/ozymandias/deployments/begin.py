"""What a submit of a new version writes besides its plan: pins, older specs, the deployment.

Pure. The instances a plan keeps where they are go on running the version
they run (pinned in `Schedule.versions`, their spec kept in
`JobRecord.older`) until the deployment replaces them; the instances the
plan places (new ones, or moved ones) start at the new version.
"""

from __future__ import annotations

from collections.abc import Collection

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    JobRecord,
    JobVersion,
    Schedule,
)


def begin_version(
    current: JobRecord | None,
    before: Schedule | None,
    record: JobRecord,
    after: Schedule,
    placed: Collection[int],
    now: float,
    *,
    revert_of: int = 0,
    satisfied_by: Collection[int] = (),
) -> tuple[JobRecord, Schedule, Deployment]:
    """The record, schedule and deployment of `record`, a new version, planned as `after`.

    `before` is the schedule the plan started from (without surge instances,
    which a new version drops); `placed` the indices the plan placed. A
    revert (`revert_of`, the failed version) names the versions whose pods
    are already what it runs (`satisfied_by`), and has no canaries.
    """
    versions: dict[int, int] = {}
    if current is not None and before is not None:
        for index, node in after.placements.items():
            if index not in placed and before.placements.get(index) == node:
                versions[index] = before.version_of(index, current.version)
    older = {}
    if current is not None:
        for version in set(versions.values()):
            spec = current.spec_of_version(version)
            if spec is not None:
                older[version] = spec
    pinned = {i: v for i, v in versions.items() if v in older}
    update = record.spec.update
    if revert_of:
        update = update.model_copy(update={"canary": 0})
    deployment = Deployment(
        job=record.spec.name,
        version=record.version,
        update=update,
        created_at=now,
        updated_at=now,
        last_progress_at=now,
        revert_of=revert_of,
        satisfied_by=sorted(satisfied_by),
        placed=dict.fromkeys(sorted(placed), now),
        desired=desired_count(record, after),
        description=f"rolling out version {record.version}",
        status=DeploymentStatus.RUNNING,
    )
    return (
        record.model_copy(update={"older": older}),
        after.model_copy(update={"versions": pinned, "surge": {}}),
        deployment,
    )


def desired_count(record: JobRecord, schedule: Schedule) -> int:
    """How many instances a deployment of `record` rolls out: a system job's are its
    eligible nodes', placed or pending."""
    if record.spec.is_system:
        return len(schedule.placements) + len(schedule.pending)
    return record.spec.num_instances


def version_entry(record: JobRecord, status: DeploymentStatus | None = None) -> JobVersion:
    """The history entry of a job record's version."""
    return JobVersion(
        job=record.spec.name,
        version=record.version,
        spec=record.spec,
        submitted_at=record.submitted_at,
        deployment_status=status,
    )
