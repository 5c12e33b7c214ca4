"""What one node must change locally: desired instances against running pods.

Pure: the agent feeds in what etcd says this node should run and what the
runtime says it does run, and gets back which pods to start, stop or replace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.spec.models import JobSpec

InstanceKey = tuple[str, int]  # (job name, instance index)


@dataclass(frozen=True)
class DesiredInstance:
    job: str
    index: int
    version: int
    spec: JobSpec

    @property
    def key(self) -> InstanceKey:
        return (self.job, self.index)


@dataclass(frozen=True)
class LocalPod:
    """A pod this node runs, as recognised by its labels."""

    pod_name: str
    job: str
    index: int
    version: int

    @property
    def key(self) -> InstanceKey:
        return (self.job, self.index)


@dataclass(frozen=True)
class LocalChanges:
    start: list[DesiredInstance] = field(default_factory=list)
    stop: list[LocalPod] = field(default_factory=list)
    # A pod whose job spec changed: stop the old pod, then start the new one.
    replace: list[tuple[LocalPod, DesiredInstance]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.start or self.stop or self.replace)


def desired_on_node(
    node_name: str, jobs: Iterable[JobRecord], schedules: Iterable[Schedule]
) -> dict[InstanceKey, DesiredInstance]:
    """The instances the schedules give `node_name`, for jobs that exist."""
    jobs_by_name = {record.spec.name: record for record in jobs}
    desired: dict[InstanceKey, DesiredInstance] = {}
    for schedule in schedules:
        record = jobs_by_name.get(schedule.job)
        if record is None:
            # The schedule can reach a node before its job record does, or
            # outlive it by a moment: either way there is nothing to run yet.
            continue
        for index, assigned_node in schedule.placements.items():
            if (
                assigned_node == node_name
                and (instance := _instance(record, schedule, index)) is not None
            ):
                desired[(schedule.job, index)] = instance
    return desired


def _instance(record: JobRecord, schedule: Schedule, index: int) -> DesiredInstance | None:
    """The instance at the version it should run: the job's, or the older one it is pinned to
    while a deployment replaces it (None if that version's spec is gone, which a commit
    never leaves behind)."""
    version = schedule.version_of(index, record.version)
    spec = record.spec_of_version(version)
    if spec is None:
        return None
    return DesiredInstance(schedule.job, index, version, spec)


def out_of_step(jobs: Iterable[JobRecord], schedules: Iterable[Schedule]) -> list[str]:
    """Jobs whose record and schedule, as mirrored, come from different commits.

    The two mirrors follow etcd on separate watches, so for a moment a node
    may see a new version before the schedule that pins its running
    instances to the old one: acting then would replace every pod at once.
    """
    versions = {record.spec.name: record.version for record in jobs}
    return sorted(
        schedule.job
        for schedule in schedules
        if schedule.job_version
        and schedule.job in versions
        and schedule.job_version != versions[schedule.job]
    )


def desired_instance(
    node_name: str, record: JobRecord | None, schedule: Schedule | None, index: int
) -> DesiredInstance | None:
    """One instance as `desired_on_node` would have it, found without going over every job."""
    if record is None or schedule is None or schedule.placements.get(index) != node_name:
        return None
    return _instance(record, schedule, index)


def plan_local_changes(
    desired: dict[InstanceKey, DesiredInstance],
    running: Iterable[LocalPod],
    busy: set[InstanceKey],
) -> LocalChanges:
    """The changes that bring `running` to `desired`, skipping `busy` instances.

    An instance is busy while an earlier change to it is still in flight; it
    is looked at again when that change finishes. A pod of another version
    than the one wanted is replaced at once: when its turn comes is the
    deployment's decision (deployments/), made by pinning the version each
    instance runs in its schedule.
    """
    changes = LocalChanges()
    seen: set[InstanceKey] = set()
    for pod in sorted(running, key=lambda pod: pod.key):
        if pod.key in busy:
            seen.add(pod.key)
            continue
        wanted = desired.get(pod.key)
        if wanted is None or pod.key in seen:
            # Not ours any more, or a duplicate of an instance already kept.
            changes.stop.append(pod)
        elif pod.version != wanted.version:
            changes.replace.append((pod, wanted))
        seen.add(pod.key)
    for key in sorted(desired):
        if key not in seen and key not in busy:
            changes.start.append(desired[key])
    return changes


@dataclass(frozen=True)
class StartBackOff:
    """An instance whose pod failed to start: when the next try of that version is due."""

    version: int
    streak: int
    retry_at: float


def waiting_out_back_off(
    desired: Mapping[InstanceKey, DesiredInstance],
    back_offs: Mapping[InstanceKey, StartBackOff],
    now: float,
) -> set[InstanceKey]:
    """The instances not to start yet: the version that failed, before its retry is due.

    A new version of the spec (a fixed image, say) starts at once: the
    back-off belongs to the version that failed, not to the instance.
    """
    return {
        key
        for key, back_off in back_offs.items()
        if key in desired and desired[key].version == back_off.version and now < back_off.retry_at
    }
