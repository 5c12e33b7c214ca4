"""The node's Prometheus metrics, one module per area (see docs/metrics.md).

Each module defines its metric objects at module level, in prometheus_client's
default registry, which `GET /metrics` (api/metrics.py) exposes. Code that
changes a thing counts it with one call where it happens; state that is
cheaper to read than to track (this node's pods, its allocation) is read at
scrape time by a collector (`families.py`), registered for a term of
membership only. No scrape reads etcd, and none walks the whole cluster.
"""

from prometheus_client import disable_created_metrics

# No `_created` series beside each counter and histogram: Prometheus does not
# need them, and they would double what every scrape writes. Here, before any
# metric of the package is made, since prometheus_client decides it per metric
# (a function it leaves untyped).
disable_created_metrics()  # type: ignore[no-untyped-call]
