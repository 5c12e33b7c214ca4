"""The etcd client's metrics: each request's latency by operation, and watches re-opened."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_DURATION = Histogram(
    "ozy_etcd_request_duration_seconds",
    "How long one etcd request took, answered or failed, by operation.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
WATCH_RECONNECTS = Counter(
    "ozy_etcd_watch_reconnects_total",
    "Times a mirror's watch broke, or could not be opened, and was tried again (an outage,"
    " a compaction), by the prefix it follows.",
    ["prefix"],
)
