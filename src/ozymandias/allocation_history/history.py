"""An hour of each node's allocation, for the dashboard's chart of a node (pure).

Samples come when the allocations change and once a minute besides, so a
quiet node still has a line to draw. The memory is bounded whatever the
churn: samples older than the window are dropped, and a sample less than
`resolution` seconds after the previous one replaces it (the newest value
of a burst is the one that stays), so a node keeps at most
window / resolution + 1 samples. A node that is gone keeps its samples
until they age out, so its page still shows where it stood.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from ozymandias.cluster.records import Resources

WINDOW_SECONDS = 3600.0
RESOLUTION_SECONDS = 5.0


@dataclass(frozen=True)
class Sample:
    time: float
    allocated: Resources
    capacity: Resources


class AllocationHistory:
    """Per-node samples of allocated and capacity over the last `window` seconds."""

    def __init__(
        self, window: float = WINDOW_SECONDS, resolution: float = RESOLUTION_SECONDS
    ) -> None:
        self.window = window
        self.resolution = resolution
        self._samples: dict[str, deque[Sample]] = {}

    @property
    def max_samples(self) -> int:
        """The most samples one node can hold."""
        return int(self.window / self.resolution) + 1

    def record(
        self, now: float, allocated: Mapping[str, Resources], capacity: Mapping[str, Resources]
    ) -> None:
        """Add one sample for every node with a capacity (a live node), then forget old ones."""
        for node, node_capacity in capacity.items():
            sample = Sample(now, allocated.get(node, Resources()), node_capacity)
            samples = self._samples.setdefault(node, deque())
            if samples and now - samples[-1].time < self.resolution:
                samples[-1] = sample
            else:
                samples.append(sample)
        self._forget_before(now - self.window)

    def samples(self, node: str) -> list[Sample]:
        """The node's samples, oldest first; empty for a node never seen (or aged out)."""
        return list(self._samples.get(node, ()))

    def _forget_before(self, cutoff: float) -> None:
        for node in list(self._samples):
            samples = self._samples[node]
            while samples and samples[0].time < cutoff:
                samples.popleft()
            if not samples:
                del self._samples[node]
