"""What one job's placement is planned from, with the etcd revisions it was read at.

`PlanningInputs` is its own module because three parties share it: the
mirrors (`cluster_mirrors.py`, fast and maybe stale), `ClusterStore`'s
one-revision read after a lost race, and the job commit (`job_commit.py`),
whose guards are these revisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ozymandias.cluster.records import (
    Deployment,
    JobRecord,
    Node,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.store import keys
from ozymandias.store.etcd import KeyValue


@dataclass(frozen=True)
class OtherJob:
    """Another job, read for preemption: its record and schedule, with the revisions a commit
    that preempts its instances is guarded by."""

    job: JobRecord
    job_revision: int
    schedule: Schedule
    schedule_revision: int
    # Its deployment, guarded too: a rollout counts on the instances it has, so a job
    # with one running is no victim, and one starting meanwhile loses the commit its race.
    deploying: bool = False
    deployment_revision: int = 0


@dataclass(frozen=True)
class PlanningInputs:
    """Everything one job's placement is computed from, with the revisions read.

    A commit of the resulting plan applies only if these revisions still
    hold. Revision 0 means the key did not exist.
    """

    nodes: list[Node]
    allocations: dict[str, tuple[Resources, int]]
    job: JobRecord | None
    job_revision: int
    schedule: Schedule | None
    schedule_revision: int
    instance_states: dict[int, str] = field(default_factory=dict)
    cordoned: frozenset[str] = frozenset()
    # The job's shared volumes (by volume name) and every domain's shared
    # storage total, each with the revision read.
    volumes: dict[str, tuple[SharedVolume, int]] = field(default_factory=dict)
    shared_allocations: dict[str, tuple[int, int]] = field(default_factory=dict)
    # The job's deployment: every commit is guarded by it, so a rollout step
    # and a submit or re-placement never act on different pictures of it.
    deployment: Deployment | None = None
    deployment_revision: int = 0
    # The job types this node lets preempt (`ozy node run --preemption`), and, only when
    # the job's type is one of them, every other job that has a schedule: its victims.
    preempting_types: frozenset[str] = frozenset()
    others: dict[str, OtherJob] = field(default_factory=dict)

    def allocated(self) -> dict[str, Resources]:
        return {name: resources for name, (resources, _) in self.allocations.items()}

    def shared_allocated(self) -> dict[str, int]:
        return {domain: taken for domain, (taken, _) in self.shared_allocations.items()}

    def job_volumes(self) -> dict[str, SharedVolume]:
        return {name: volume for name, (volume, _) in self.volumes.items()}

    def record_commit(self, allocation_changes: Mapping[str, Resources], revision: int) -> None:
        """Fold a won commit's allocation changes into these inputs, in place.

        A commit writes every allocation total it changes in one transaction,
        so each of those keys now has the commit's `revision` as its
        mod_revision. A long-lived scheduler (one process placing job after
        job) can therefore plan its next job from these inputs, with the same
        changes folded into its `ClusterView`, instead of re-reading every
        node's total from etcd. Only the allocations change: the job and
        schedule fields still describe the job that was committed.
        """
        zero = Resources()
        for name, change in allocation_changes.items():
            allocated, _ = self.allocations.get(name, (zero, 0))
            self.allocations[name] = (allocated + change, revision)


def other_jobs_read(
    job_name: str,
    jobs: Sequence[KeyValue],
    schedules: Sequence[KeyValue],
    deployments: Sequence[KeyValue],
) -> dict[str, OtherJob]:
    """Every job but `job_name` that has a schedule, from a read of the three prefixes."""
    rollouts = {
        keys.name_after(keys.DEPLOYMENTS, pair.key): (
            Deployment.from_json(pair.value).status.active,
            pair.mod_revision,
        )
        for pair in deployments
    }
    by_name = {
        keys.name_after(keys.SCHEDULES, pair.key): (
            Schedule.from_json(pair.value),
            pair.mod_revision,
        )
        for pair in schedules
    }
    others = {}
    for pair in jobs:
        name = keys.name_after(keys.JOBS, pair.key)
        if name != job_name and name in by_name:
            schedule, revision = by_name[name]
            deploying, deployment_revision = rollouts.get(name, (False, 0))
            others[name] = OtherJob(
                JobRecord.from_json(pair.value),
                pair.mod_revision,
                schedule,
                revision,
                deploying,
                deployment_revision,
            )
    return others
