"""The cluster-wide invariants placement must keep, checked over data read back from etcd."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ozymandias.cluster.records import Resources, Schedule


def check_invariants(
    capacities: Mapping[str, Resources],
    allocations: Mapping[str, Resources],
    schedules: Iterable[Schedule],
    pod_sizes: Mapping[str, Resources],
) -> list[str]:
    """Every violation found, as a sentence; an empty list means all is well.

    `capacities` has the live nodes, `allocations` the per-node totals the
    store keeps, and `pod_sizes` each job's pod size. Checked: every placed
    instance is on a live node, each node's total equals the sum of the pods
    placed on it, and no node's total exceeds its capacity.
    """
    violations: list[str] = []
    placed: dict[str, Resources] = {}
    for schedule in schedules:
        pod = pod_sizes.get(schedule.job)
        if pod is None:
            violations.append(f"job {schedule.job} has a schedule but no known pod size")
            continue
        for index, node in sorted(schedule.placements.items()):
            if node not in capacities:
                violations.append(f"{schedule.job}-{index} is placed on unknown node {node}")
            placed[node] = placed.get(node, Resources()) + pod
        for index in sorted(schedule.placements.keys() & schedule.pending.keys()):
            violations.append(f"{schedule.job}-{index} is both placed and pending")

    zero = Resources()
    for node in sorted(allocations.keys() | placed.keys()):
        recorded = allocations.get(node, zero)
        expected = placed.get(node, zero)
        if recorded != expected:
            violations.append(
                f"node {node} records {_show(recorded)} allocated "
                f"but its placements add up to {_show(expected)}"
            )
    for node, capacity in sorted(capacities.items()):
        allocated = allocations.get(node, zero)
        if not allocated.fits_within(capacity):
            violations.append(
                f"node {node} has {_show(allocated)} allocated, over its capacity {_show(capacity)}"
            )
    return violations


def _show(resources: Resources) -> str:
    if not resources.cpu:  # most jobs set no `cpus`: keep their messages short
        return f"{resources.memory} bytes of memory and {resources.disk} bytes of disk"
    return (
        f"{resources.memory} bytes of memory, {resources.disk} bytes of disk "
        f"and {resources.cpu} millicores of CPU"
    )
