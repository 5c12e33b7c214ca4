"""The scheduler's metrics: how long plans take, how their commits end, what is left pending.

Every node plans (submits, re-placements, system jobs, deployment steps) and
races its peers to commit, so each node counts its own plans and commits.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Where a plan was made: a submit, scale, restart or revert (`service`), the
# re-placement of lost or pending instances (`replacement`), or a system job.
SOURCES = ("service", "replacement", "system")

PLAN_DURATION = Histogram(
    "ozy_scheduler_plan_duration_seconds",
    "How long one placement plan took to compute, by what asked for it.",
    ["source"],
    # Most plans take well under a millisecond; a big job on a big cluster, seconds.
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10),
)
COMMITS = Counter(
    "ozy_scheduler_commits_total",
    "Plans this node tried to commit, by result: won, lost (a peer committed first: re-plan),"
    " conflict (the job changed since the client read it), rejected (with the problem type).",
    ["result", "reason"],
)
PENDING_INSTANCES = Gauge(
    "ozy_scheduler_pending_instances",
    "Instances placed nowhere for want of room, as this node's mirrors show the cluster.",
)
REPLACEMENTS = Counter(
    "ozy_scheduler_replacements_total",
    "Instances this node re-placed (off a lost node, or out of pending).",
    ["job"],
)

for _result in ("won", "lost", "conflict"):
    COMMITS.labels(_result, "")
for _source in SOURCES:
    PLAN_DURATION.labels(_source)


def count_commit(won: bool) -> None:
    """One commit of a plan: won, or lost to a peer's."""
    COMMITS.labels("won" if won else "lost", "").inc()


def count_refusal(kind: str) -> None:
    """A plan refused with problem type `kind`; `job-modified` is a conflict (409)."""
    if kind == "job-modified":
        COMMITS.labels("conflict", "").inc()
    else:
        COMMITS.labels("rejected", kind).inc()
