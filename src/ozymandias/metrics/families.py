"""Metrics read at scrape time, and registering their collector for a term of membership.

A collector's families are declared once, at module level, as `Family`
values: the collector builds its samples from them, and the docs test
(tests/unit/test_metrics_docs.py) finds them there without a running node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class Family:
    """One metric a collector reports: its name as exposed (a counter's ends in `_total`),
    help text, label names and type (a counter read from a count kept elsewhere, such as
    HAProxy's, or a gauge)."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    type: Literal["gauge", "counter"] = "gauge"

    def empty(self) -> GaugeMetricFamily | CounterMetricFamily:
        """A family of this metric with no samples yet, for a collector to fill."""
        if self.type == "counter":
            return CounterMetricFamily(self.name, self.documentation, labels=list(self.labels))
        return GaugeMetricFamily(self.name, self.documentation, labels=list(self.labels))


def described(families: Iterable[Family]) -> list[Metric]:
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
