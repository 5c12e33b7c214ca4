"""When the cluster rebalances by itself (`ozy node run --auto-rebalance`), decided purely.

#17 asks for a rebalance when a node joins, or when a node's allocation passes
the cluster's mean by more than `--rebalance-threshold`, with hysteresis. One
node decides (the one that steps rebalances, see `rebalance_runner.py`), and
starting a rebalance is a compare-and-swap on the rebalance record, so two
nodes never both start one. Hysteresis: none while one runs, nor for
`COOLDOWN_SECONDS` after the last one with moves ended, so instances are not
moved back and forth while allocations settle. Which nodes there were is kept
in the rebalance record (`Rebalance.nodes`), not in a node's memory, so a
join is seen whichever node decides, even the one that just joined.
"""

from __future__ import annotations

from dataclasses import dataclass

from ozymandias.cluster.rebalance_record import Rebalance
from ozymandias.scheduling.view import ClusterView, NodeView

COOLDOWN_SECONDS = 60.0


@dataclass(frozen=True)
class Trigger:
    """Why to rebalance now; `joined` when it is new nodes (their names)."""

    reason: str
    joined: tuple[str, ...] = ()


def eligible_nodes(view: ClusterView) -> list[NodeView]:
    """The nodes a rebalance moves instances between: live, uncordoned, with memory."""
    return [node for node in view if node.schedulable and node.capacity_memory > 0]


def auto_trigger(
    view: ClusterView,
    threshold: float,
    last: Rebalance | None,
    now: float,
    cooldown: float = COOLDOWN_SECONDS,
) -> Trigger | None:
    """Why to start a rebalance now, or None.

    A node joined when the last rebalance did not see it (`Rebalance.nodes`; with
    none yet, every node is new). Hysteresis: nothing while a rebalance runs, nor
    within `cooldown` of the end of one that had moves.
    """
    if last is not None and (last.active or (last.moves and now - last.finished_at < cooldown)):
        return None
    nodes = eligible_nodes(view)
    seen = set(last.nodes) if last is not None else set()
    joined = tuple(sorted(node.name for node in nodes if node.name not in seen))
    if joined:
        plural = "s" if len(joined) > 1 else ""
        return Trigger(f"node{plural} {', '.join(joined)} joined", joined)
    mean = _mean_share(nodes)
    over = max(nodes, key=lambda node: (_share(node), node.name), default=None)
    if over is not None and _share(over) - mean > threshold:
        return Trigger(
            f"node {over.name} is {_share(over):.0%} allocated, more than {threshold:.0%}"
            f" over the cluster's {mean:.0%}"
        )
    return None


def _share(node: NodeView) -> float:
    """The node's dominant share, as the planner counts it: memory or CPU, the larger."""
    allocated = node.allocated
    by_memory = allocated.memory / node.capacity_memory if node.capacity_memory else 0.0
    by_cpu = allocated.cpu / node.capacity_cpu if node.capacity_cpu else 0.0
    return max(by_memory, by_cpu)


def _mean_share(nodes: list[NodeView]) -> float:
    memory = sum(node.allocated.memory for node in nodes)
    capacity_memory = sum(node.capacity_memory for node in nodes)
    cpu = sum(node.allocated.cpu for node in nodes)
    capacity_cpu = sum(node.capacity_cpu for node in nodes)
    by_memory = memory / capacity_memory if capacity_memory else 0.0
    by_cpu = cpu / capacity_cpu if capacity_cpu else 0.0
    return max(by_memory, by_cpu)
