"""Reconciliation: which instances of a job to keep, which to create, which to stop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ozymandias.cluster.records import Schedule

# States, as reported by nodes or the health checker, that mark an instance as not
# doing useful work: the first to go when a job scales down.
UNHEALTHY_STATES: frozenset[str] = frozenset({"failed", "completed", "unhealthy"})


@dataclass(frozen=True, slots=True)
class Diff:
    """Instance indices sorted into buckets; each list is in ascending order."""

    keep: list[int]
    place: list[int]
    stop: list[int]


def reconcile(
    desired_count: int,
    existing: Schedule | None,
    instance_states: Mapping[int, str] | None = None,
) -> Diff:
    """Diff the desired instance count against the instances a job has now.

    New instances take the lowest unused indices, so a job scaled down and up
    again reuses its names. When scaling down, the instances to stop are chosen
    in this order: those never placed (pending), then those whose state is in
    `UNHEALTHY_STATES`, then the rest; within each group the highest index first.
    `instance_states` maps index to an `InstanceState` value or a health verdict
    such as "unhealthy"; an index missing from it counts as healthy.
    """
    states = instance_states or {}
    placed = existing.placements if existing is not None else {}
    unplaced = existing.pending if existing is not None else {}
    current = sorted(placed.keys() | unplaced.keys())

    surplus = len(current) - desired_count
    if surplus >= 0:

        def stop_first(index: int) -> tuple[int, int]:
            if index not in placed:
                rank = 0
            elif states.get(index) in UNHEALTHY_STATES:
                rank = 1
            else:
                rank = 2
            return (rank, -index)

        stop = set(sorted(current, key=stop_first)[:surplus])
        return Diff(
            keep=[i for i in current if i not in stop],
            place=[],
            stop=sorted(stop),
        )

    # A deployment's surge instances (see Schedule.surge) are not counted,
    # but their indices are taken.
    taken = set(current) | (existing.surge.keys() if existing is not None else set())
    place: list[int] = []
    index = 0
    while len(place) < -surplus:
        if index not in taken:
            place.append(index)
        index += 1
    return Diff(keep=current, place=place, stop=[])
