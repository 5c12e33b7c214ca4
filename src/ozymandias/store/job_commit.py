"""The job commit: one scheduling decision written as one guarded etcd transaction.

A plan (a job, its schedule, its shared volumes and the allocation totals it
changes) is written only if nothing it was planned from has changed since.
The guards and operations are built by pure functions, one per kind of
record, so the transaction can be read (and tested) apart from sending it;
`commit_job` sends it once and, if the answer is lost, reads back whether
it landed. `ClusterStore.commit` is the public entry point.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ozymandias.cluster.records import (
    Deployment,
    JobRecord,
    JobVersion,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.store import keys
from ozymandias.store.etcd import (
    CommitOutcomeUnknown,
    Delete,
    Etcd,
    Exists,
    Guard,
    Operation,
    Put,
    StoreUnavailable,
    Unchanged,
)
from ozymandias.store.planning_inputs import PlanningInputs

log = logging.getLogger(__name__)

# How many versions of a job `ozy history` keeps.
HISTORY_LENGTH = 10


class CommitResult(Enum):
    WON = "won"
    LOST = "lost"  # a peer changed something we read: re-read, re-plan, retry


@dataclass(frozen=True)
class CommitOutcome:
    result: CommitResult
    revision: int  # the commit's own revision when WON; 0 when it is not known

    @property
    def won(self) -> bool:
        return self.result is CommitResult.WON


@dataclass(frozen=True)
class JobTransaction:
    """The guards and operations of one job commit, and the schedule's commit id.

    `commit_id` is "" when the commit deletes the job.
    """

    guards: list[Guard]
    operations: list[Operation]
    commit_id: str


def job_transaction(
    job_name: str,
    basis: PlanningInputs,
    *,
    job: JobRecord | None,
    schedule: Schedule | None,
    allocation_changes: Mapping[str, Resources],
    nodes_that_must_exist: list[str],
    volumes: Sequence[SharedVolume] = (),
    shared_allocation_changes: Mapping[str, int] | None = None,
    deployment: Deployment | None = None,
    new_version: JobVersion | None = None,
    preempted: Mapping[str, Schedule] | None = None,
) -> JobTransaction:
    """The transaction `ClusterStore.commit` sends (see there for what it guards)."""
    guards: list[Guard] = [
        # Also what check-and-set rests on (`apply --check-index`): the service checks the
        # client's index against this revision, and the commit holds only while it stands.
        Unchanged(keys.job(job_name), basis.job_revision),
        Unchanged(keys.schedule(job_name), basis.schedule_revision),
        Unchanged(keys.deployment(job_name), basis.deployment_revision),
    ]
    operations: list[Operation] = []
    for part_guards, part_operations in (
        _allocation_writes(basis, allocation_changes),
        _shared_allocation_writes(basis, shared_allocation_changes or {}),
        _volume_writes(job_name, basis, volumes),
        _preempted_writes(basis, preempted or {}),
    ):
        guards += part_guards
        operations += part_operations
    guards.extend(Exists(keys.node(name)) for name in sorted(set(nodes_that_must_exist)))
    job_operations, commit_id = _job_writes(job_name, job, schedule)
    operations += job_operations + _history_writes(job_name, job, deployment, new_version)
    return JobTransaction(guards, operations, commit_id)


def _history_writes(
    job_name: str,
    job: JobRecord | None,
    deployment: Deployment | None,
    new_version: JobVersion | None,
) -> list[Operation]:
    """The deployment and the new version in history (the oldest beyond the limit going),
    or, with the job, both gone."""
    if job is None:
        return [Delete(keys.deployment(job_name)), Delete(keys.job_versions(job_name), prefix=True)]
    operations: list[Operation] = []
    if deployment is not None:
        operations.append(Put(keys.deployment(job_name), deployment.to_json()))
    if new_version is not None:
        operations.append(
            Put(keys.job_version(job_name, new_version.version), new_version.to_json())
        )
        if new_version.version > HISTORY_LENGTH:
            forgotten = new_version.version - HISTORY_LENGTH
            operations.append(Delete(keys.job_version(job_name, forgotten)))
    return operations


def _allocation_writes(
    basis: PlanningInputs, allocation_changes: Mapping[str, Resources]
) -> tuple[list[Guard], list[Operation]]:
    """Each touched node's new allocation total, guarded by the revision it was read at."""
    guards: list[Guard] = []
    operations: list[Operation] = []
    for node_name, change in sorted(allocation_changes.items()):
        allocated, revision = basis.allocations.get(node_name, (Resources(), 0))
        guards.append(Unchanged(keys.allocation(node_name), revision))
        operations.append(Put(keys.allocation(node_name), (allocated + change).to_json()))
    return guards, operations


def _preempted_writes(
    basis: PlanningInputs, preempted: Mapping[str, Schedule]
) -> tuple[list[Guard], list[Operation]]:
    """The schedules of the jobs whose instances the commit preempts, each guarded by its job's,
    its deployment's and its own revision as read: a victim that changed meanwhile loses the
    commit its race (its pod size, which instances it has where, or whether a rollout counts
    on them, may no longer be what the plan saw)."""
    guards: list[Guard] = []
    operations: list[Operation] = []
    for name, schedule in sorted(preempted.items()):
        other = basis.others[name]
        guards.append(Unchanged(keys.job(name), other.job_revision))
        guards.append(Unchanged(keys.schedule(name), other.schedule_revision))
        guards.append(Unchanged(keys.deployment(name), other.deployment_revision))
        operations.append(Put(keys.schedule(name), schedule.to_json()))
    return guards, operations


def _shared_allocation_writes(
    basis: PlanningInputs, shared_allocation_changes: Mapping[str, int]
) -> tuple[list[Guard], list[Operation]]:
    """Each touched domain's new shared storage total, guarded likewise."""
    guards: list[Guard] = []
    operations: list[Operation] = []
    for domain, growth in sorted(shared_allocation_changes.items()):
        taken, revision = basis.shared_allocations.get(domain, (0, 0))
        guards.append(Unchanged(keys.shared_allocation(domain), revision))
        operations.append(
            Put(keys.shared_allocation(domain), Resources(disk=taken + growth).to_json())
        )
    return guards, operations


def _volume_writes(
    job_name: str, basis: PlanningInputs, volumes: Sequence[SharedVolume]
) -> tuple[list[Guard], list[Operation]]:
    """The written volumes, with a guard on every volume of the job."""
    # Every volume of the job is guarded, written or not: a removal asked
    # for meanwhile must not go unseen by a commit that mounts the volume.
    written = {volume.name for volume in volumes}
    guards: list[Guard] = []
    for name in sorted(written | basis.volumes.keys()):
        _, revision = basis.volumes.get(name, (None, 0))
        guards.append(Unchanged(keys.volume(job_name, name), revision))
    operations: list[Operation] = [
        Put(keys.volume(job_name, volume.name), volume.to_json()) for volume in volumes
    ]
    return guards, operations


def _job_writes(
    job_name: str, job: JobRecord | None, schedule: Schedule | None
) -> tuple[list[Operation], str]:
    """The job and its schedule (stamped with a fresh commit id), or their deletion."""
    if job is None or schedule is None:
        return [Delete(keys.job(job_name)), Delete(keys.schedule(job_name))], ""
    commit_id = uuid.uuid4().hex
    schedule = schedule.model_copy(update={"commit_id": commit_id, "job_version": job.version})
    return [
        Put(keys.job(job_name), job.to_json()),
        Put(keys.schedule(job_name), schedule.to_json()),
    ], commit_id


async def commit_job(etcd: Etcd, job_name: str, transaction: JobTransaction) -> CommitOutcome:
    """Send a job's transaction once; if its outcome is unknown, read back its schedule."""
    try:
        outcome = await etcd.transaction(transaction.guards, transaction.operations)
    except CommitOutcomeUnknown as error:
        log.warning("commit of %s: %s; reading back its schedule", job_name, error)
        landed = await _commit_landed(etcd, job_name, transaction.commit_id)
        return CommitOutcome(CommitResult.WON if landed else CommitResult.LOST, 0)
    if outcome.applied:
        return CommitOutcome(CommitResult.WON, outcome.revision)
    return CommitOutcome(CommitResult.LOST, 0)


async def _commit_landed(etcd: Etcd, job_name: str, commit_id: str) -> bool:
    """Whether a commit whose answer was lost did apply, read once etcd answers."""
    for attempt in range(20):
        try:
            current = await etcd.get(keys.schedule(job_name))
        except StoreUnavailable:
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
            continue
        if not commit_id:
            return current is None
        return current is not None and Schedule.from_json(current.value).commit_id == commit_id
    raise StoreUnavailable(f"etcd did not come back to confirm the commit of {job_name}")
