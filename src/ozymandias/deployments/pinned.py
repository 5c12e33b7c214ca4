"""Placing one surge instance on a named node (pure): a rebalance move's replacement.

A rollout's surge instances go wherever the rankers say, and bin packing would
put them on the fullest node: the opposite of a rebalance. A move's new
instance must run on the move's target, or not at all (its deployment then
fails, and the old instance stays where it is).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ozymandias.cluster.records import Resources
from ozymandias.scheduling.filters import constraint_filters
from ozymandias.scheduling.request import PlacementRequest
from ozymandias.scheduling.view import ClusterView


def why_not_on(
    request: PlacementRequest,
    view: ClusterView,
    target: str,
    added: Mapping[str, Resources],
) -> str | None:
    """Why the target cannot take one more of the job's instances, or None when it can.

    `added` is what the step being made has already placed or freed per node.
    """
    node = view.get(target)
    if node is None or not node.alive:
        return f"node {target} is gone"
    if node.cordoned:
        return f"node {target} is cordoned"
    failed = [rule.requirement for rule in constraint_filters(request) if not rule.passes(node)]
    if failed:
        return f"node {target} does not pass the job's constraints ({'; '.join(failed)})"
    taken = added.get(target, Resources())
    pod = request.pod
    if (
        node.free_memory - taken.memory < pod.memory
        or node.free_disk - taken.disk < pod.disk
        or node.free_cpu - taken.cpu < pod.cpu
    ):
        return f"node {target} has no room for another instance of {request.job}"
    return None


def free_index(taken: Collection[int]) -> int:
    """The lowest index not taken (by a placed, pending, surge or retired instance)."""
    index = 0
    while index in taken:
        index += 1
    return index
