"""Prometheus metrics: every metric object of the node, one module per area."""
