"""The ingress metrics: read from HAProxy's stats socket at scrape time.

HAProxy counts requests, responses and errors itself; a scrape asks it for
`show stat` (`ingress/haproxy.py`) and maps its proxies back to jobs
(`ingress/haproxy_stats.py`), so the request path counts nothing in Python.
The read has a deadline; when it fails (HAProxy down, reloading, or slow),
the scrape carries `ozy_ingress_up 0` and no other ingress sample, rather
than failing or waiting.

The ingress part registers an `IngressCollector` over its HAProxy while it
runs, once per term of membership (`metrics/families.py`).

HAProxy's counters live in its process: each reload (a new generation,
when a job, host or TCP port comes or goes) starts them at zero again.
That is a counter reset, which Prometheus's `rate()` and `increase()` allow
for; requests the old process finishes after the reload are not counted.
"""

from __future__ import annotations

import logging
from typing import Protocol

from prometheus_client.metrics_core import Metric

from ozymandias.ingress.haproxy_config import Layout
from ozymandias.ingress.haproxy_stats import (
    ERROR_KINDS,
    STATUS_CLASSES,
    IngressStats,
    StatFormatError,
    parse_stat_csv,
    summarize,
)
from ozymandias.metrics.families import Family, described

log = logging.getLogger(__name__)

# `GET /metrics` collects on the node's event loop, which this read holds up:
# a few milliseconds for hundreds of servers, and never more than this.
READ_TIMEOUT_SECONDS = 0.2

UP = Family(
    "ozy_ingress_up",
    "Whether this scrape read HAProxy's statistics (0: no other ingress samples).",
)
HTTP_REQUESTS = Family(
    "ozy_ingress_http_requests_total",
    "HTTP requests through the ingress, by job and their response's status class.",
    ("job", "code"),
    "counter",
)
TCP_CONNECTIONS = Family(
    "ozy_ingress_tcp_connections_total",
    "Connections through a job's TCP ingress ports.",
    ("job",),
    "counter",
)
ERRORS = Family(
    "ozy_ingress_errors_total",
    "Ingress errors by job and kind: request (rejected), connect (no connection to an "
    "instance), response (an instance's response failed).",
    ("job", "kind"),
    "counter",
)
HTTP_REQUEST_ERRORS = Family(
    "ozy_ingress_http_request_errors_total",
    "HTTP requests rejected before any job was chosen (malformed, too large or too slow).",
    type="counter",
)
SERVERS = Family(
    "ozy_ingress_servers",
    "HAProxy servers holding an instance of the job, by state (up or down).",
    ("job", "state"),
)
_FAMILIES = (UP, HTTP_REQUESTS, TCP_CONNECTIONS, ERRORS, HTTP_REQUEST_ERRORS, SERVERS)


class StatsSource(Protocol):
    """What the collector reads: `ingress.haproxy.Haproxy`, or a fake in tests."""

    def read_stats(self, timeout: float) -> tuple[Layout, str]: ...


class IngressCollector:
    """Reports the ingress figures of one HAProxy when scraped."""

    def __init__(self, source: StatsSource) -> None:
        self._source = source

    def describe(self) -> list[Metric]:
        return described(_FAMILIES)

    def collect(self) -> list[Metric]:
        return _metrics(self._read())

    def _read(self) -> IngressStats | None:
        try:
            layout, text = self._source.read_stats(READ_TIMEOUT_SECONDS)
            return summarize(parse_stat_csv(text), layout)
        except (OSError, StatFormatError) as error:
            log.debug("ingress metrics: HAProxy's stats unreadable: %s", error)
            return None


def _metrics(stats: IngressStats | None) -> list[Metric]:
    up, requests, connections, errors, rejected, servers = (f.empty() for f in _FAMILIES)
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
    return [up, requests, connections, errors, rejected, servers]
