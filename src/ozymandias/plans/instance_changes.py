"""What a plan does to each instance of a job, from the schedules before and after it.

An instance is *created* where there was none, *stopped* when scaled away,
*replaced* when its pods must change (a new version: `pod_fingerprint`
changed) or it moves to another node, *updated in place* when the spec
changed but not its pods (say, its ingress), and *kept* otherwise. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.spec.models import JobSpec


class Action(StrEnum):
    KEPT = "kept"
    UPDATED = "updated in place"
    REPLACED = "replaced"
    CREATED = "created"
    STOPPED = "stopped"


@dataclass(frozen=True)
class InstanceChange:
    """`node`: where the instance runs after the plan (where it stops, for a stop; "" for one
    that never had a node). `previous_node`: where a moved instance ran before."""

    index: int
    action: Action
    node: str
    previous_node: str = ""


def instance_changes(
    previous: JobRecord | None,
    previous_schedule: Schedule | None,
    proposed: JobRecord,
    schedule: Schedule,
    placed: Mapping[int, str],
    stopped: Sequence[int],
) -> list[InstanceChange]:
    """Every instance's fate, by index: those of `schedule` and the `stopped` ones."""
    before = previous_schedule.placements if previous_schedule is not None else {}
    new_pods = previous is not None and proposed.version != previous.version
    updated = previous is not None and _but_count(previous.spec) != _but_count(proposed.spec)
    changes = []
    for index, node in schedule.placements.items():
        was = before.get(index)
        if was is None:
            changes.append(InstanceChange(index, Action.CREATED, node))
        elif placed.get(index, was) != was:
            changes.append(InstanceChange(index, Action.REPLACED, node, previous_node=was))
        elif new_pods:
            changes.append(InstanceChange(index, Action.REPLACED, node))
        else:
            changes.append(InstanceChange(index, Action.UPDATED if updated else Action.KEPT, node))
    changes += [InstanceChange(index, Action.STOPPED, before.get(index, "")) for index in stopped]
    return sorted(changes, key=lambda change: change.index)


def _but_count(spec: JobSpec) -> JobSpec:
    # Scaling alone leaves the remaining instances as they are: kept, not updated.
    return spec.model_copy(update={"num_instances": 0})


def counts(changes: Sequence[InstanceChange]) -> dict[str, int]:
    """How many instances each action touches, in the order of `Action`."""
    tally = Counter(change.action for change in changes)
    return {action.value: tally[action] for action in Action if tally[action]}


def changes_anything(changes: Sequence[InstanceChange]) -> bool:
    return any(change.action is not Action.KEPT for change in changes)
