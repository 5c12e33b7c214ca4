"""The ingress metrics: read from HAProxy's stats socket at scrape time.

HAProxy counts requests, responses and errors itself; a scrape asks it for
`show stat` (`ingress/haproxy.py`) and maps its proxies back to jobs
(`ingress/haproxy_stats.py`), so the request path counts nothing in Python.
The read has a deadline; when it fails (HAProxy down, reloading, or slow),
the scrape carries no ingress samples but `ozy_ingress_up 0`, rather than
failing or waiting.

`INGRESS` is registered in the default registry once, at import, and always
describes its families; the node's ingress part attaches its HAProxy when it
starts and detaches it when it stops (once per term of membership), so a
rejoining node never registers twice.

HAProxy's counters live in its process: each reload (a new generation,
when a job, host or TCP port comes or goes) starts them at zero again.
That is a counter reset, which Prometheus's `rate()` and `increase()` allow
for; requests the old process finishes after the reload are not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ozymandias.ingress.haproxy_config import Layout
from ozymandias.ingress.haproxy_stats import (
    ERROR_KINDS,
    STATUS_CLASSES,
    IngressStats,
    StatFormatError,
    parse_stat_csv,
    summarize,
)

log = logging.getLogger(__name__)

# A scrape waits at most this long for HAProxy (Prometheus's own default timeout is 10 s).
READ_TIMEOUT_SECONDS = 0.5


class StatsSource(Protocol):
    """What the collector reads: `ingress.haproxy.Haproxy`, or a fake in tests."""

    def read_stats(self, timeout: float) -> tuple[Layout, str]: ...


class IngressCollector(Collector):
    def __init__(self) -> None:
        self._source: StatsSource | None = None

    def attach(self, source: StatsSource) -> None:
        """Read `source` at every scrape from now on."""
        self._source = source

    def detach(self, source: StatsSource) -> None:
        """Stop reading `source` (a later part's source stays attached)."""
        if self._source is source:
            self._source = None

    def describe(self) -> Iterator[Metric]:
        return iter(_families(None).values())

    def collect(self) -> Iterator[Metric]:
        return iter(_families(self._read()).values())

    def _read(self) -> IngressStats | None:
        source = self._source
        if source is None:
            return None
        try:
            layout, text = source.read_stats(READ_TIMEOUT_SECONDS)
            return summarize(parse_stat_csv(text), layout)
        except (OSError, StatFormatError) as error:
            log.debug("ingress metrics: HAProxy's stats unreadable: %s", error)
            return None


def _families(stats: IngressStats | None) -> dict[str, Metric]:
    up = GaugeMetricFamily(
        "ozy_ingress_up",
        "Whether this scrape read HAProxy's statistics (0: no other ingress samples).",
    )
    requests = CounterMetricFamily(
        "ozy_ingress_http_requests",
        "HTTP requests through the ingress, by job and their response's status class.",
        labels=["job", "code"],
    )
    connections = CounterMetricFamily(
        "ozy_ingress_tcp_connections",
        "Connections through a job's TCP ingress ports.",
        labels=["job"],
    )
    errors = CounterMetricFamily(
        "ozy_ingress_errors",
        "Ingress errors by job and kind: request (rejected), connect (no connection to an "
        "instance), response (an instance's response failed).",
        labels=["job", "kind"],
    )
    rejected = CounterMetricFamily(
        "ozy_ingress_http_request_errors",
        "HTTP requests rejected before any job was chosen (malformed, too large or too slow).",
    )
    servers = GaugeMetricFamily(
        "ozy_ingress_servers",
        "HAProxy servers holding an instance of the job, by state (up or down).",
        labels=["job", "state"],
    )
    up.add_metric([], 1 if stats is not None else 0)
    if stats is not None:
        rejected.add_metric([], stats.http_request_errors)
        for job, figures in sorted(stats.jobs.items()):
            if figures.http:
                for status_class in STATUS_CLASSES:
                    requests.add_metric([job, status_class], figures.responses[status_class])
            if figures.tcp:
                connections.add_metric([job], figures.connections)
            for kind in ERROR_KINDS:
                errors.add_metric([job, kind], figures.errors[kind])
            servers.add_metric([job, "up"], figures.servers_up)
            servers.add_metric([job, "down"], figures.servers_down)
    families: list[Metric] = [up, requests, connections, errors, rejected, servers]
    return {family.name: family for family in families}


INGRESS = IngressCollector()
REGISTRY.register(INGRESS)
