"""The node's Prometheus metrics, one module per area (see docs/metrics.md).

Each module defines its metric objects at module level, in prometheus_client's
default registry, which `GET /metrics` (api/metrics.py) exposes. Code that
changes a thing counts it with one call where it happens; state that is
cheaper to read than to track (this node's pods, its allocation) is read at
scrape time by a collector (`families.py`), registered for a term of
membership only. No scrape reads etcd, and none walks the whole cluster.
"""
