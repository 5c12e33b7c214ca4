"""What one node must change locally: desired instances against running pods.

Pure: the agent feeds in what etcd says this node should run and what the
runtime says it does run, and gets back which pods to start, stop or replace.
"""

from __future__ import annotations

from collections.abc import Iterable
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
            if assigned_node == node_name:
                desired[(schedule.job, index)] = DesiredInstance(
                    schedule.job, index, record.version, record.spec
                )
    return desired


def plan_local_changes(
    desired: dict[InstanceKey, DesiredInstance],
    running: Iterable[LocalPod],
    busy: set[InstanceKey],
) -> LocalChanges:
    """The changes that bring `running` to `desired`, skipping `busy` instances.

    An instance is busy while an earlier change to it is still in flight; it
    is looked at again when that change finishes.
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
