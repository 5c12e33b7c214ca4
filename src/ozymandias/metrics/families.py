"""Gauges read at scrape time, and registering their collector for a term of membership.

A collector's families are declared once, at module level, as `GaugeFamily`
values: the collector builds its samples from them, and the docs test
(tests/unit/test_metrics_docs.py) finds them there without a running node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class GaugeFamily:
    """One gauge a collector reports: its name, help text and label names."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()

    def empty(self) -> GaugeMetricFamily:
        """A family of this gauge with no samples yet, for a collector to fill."""
        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))


def described(families: Iterable[GaugeFamily]) -> list[Metric]:
    """A collector's `describe()`: its families' names, so the registry refuses duplicates."""
    return [family.empty() for family in families]


@contextmanager
def registered(collector: Collector) -> Iterator[None]:
    """Expose `collector` in the default registry while the block runs.

    A node runs its parts afresh for every term of membership: each term's
    collector reads that term's state, so it is unregistered when the term ends.
    """
    REGISTRY.register(collector)
    try:
        yield
    finally:
        REGISTRY.unregister(collector)
