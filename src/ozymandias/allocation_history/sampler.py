"""Feeds the node's `AllocationHistory` from its mirrors: on every change, and each minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ozymandias.allocation_history.history import AllocationHistory
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import Mirror, any_changed

# A quiet cluster still gets a point a minute, so the chart's line reaches "now".
PERIOD_SECONDS = 60.0


class AllocationSampler:
    def __init__(
        self,
        mirrors: ClusterMirrors,
        history: AllocationHistory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._mirrors = mirrors
        self.history = history
        self._clock = clock

    def sample(self) -> None:
        mirrors = self._mirrors
        capacity = {node.name: node.capacity for node in mirrors.node_list()}
        self.history.record(self._clock(), mirrors.allocated(), capacity)

    async def run(self) -> None:
        """Sample until cancelled; the mirrors are synced before this starts."""
        allocations, nodes = self._mirrors.allocations, self._mirrors.nodes
        while True:
            seen: list[tuple[Mirror[Any], int]] = [
                (allocations, allocations.revision),
                (nodes, nodes.revision),
            ]
            self.sample()
            await any_changed(seen, at_most=PERIOD_SECONDS)
