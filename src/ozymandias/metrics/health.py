"""Healthcheck metrics: every check's result and how long it took, by check type."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CHECKS = Counter(
    "ozy_health_checks_total",
    "Healthchecks this node ran, by type (http, tcp, exec) and result (pass, fail).",
    ["type", "result"],
)
CHECK_DURATION = Histogram(
    "ozy_health_check_duration_seconds",
    "How long one healthcheck took, by type (http, tcp, exec).",
    ["type"],
    # From a local tcp connect (under a millisecond) to an exec's timeout (5 s by default).
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_check(check_type: str, passed: bool, seconds: float) -> None:
    CHECKS.labels(check_type, "pass" if passed else "fail").inc()
    CHECK_DURATION.labels(check_type).observe(seconds)
