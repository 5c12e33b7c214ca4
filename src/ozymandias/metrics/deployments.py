"""Deployments' metrics: how each ended, by job.

Only the node responsible for a job's deployment (deployments/deployer.py)
commits its end, so each ending is counted once in the cluster.
"""

from __future__ import annotations

from prometheus_client import Counter

RESULTS = ("successful", "failed", "reverted")

DEPLOYMENTS = Counter(
    "ozy_deployments_total",
    "Deployments that ended, by job and result (successful, failed, reverted).",
    ["job", "result"],
)


def count_end(job: str, status: str) -> None:
    """A deployment of `job` ended with `status`; a status that is not an end is not counted."""
    if status in RESULTS:
        DEPLOYMENTS.labels(job, status).inc()
