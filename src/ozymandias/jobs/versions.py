"""A job's kept versions: its history as `ozy history` lists it, and which version a
rollback goes to (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ozymandias.cluster.records import Deployment, DeploymentStatus, JobVersion
from ozymandias.jobs.errors import JobRejected
from ozymandias.plans.history_summary import summarize
from ozymandias.store.job_commit import HISTORY_LENGTH

# The oldest kept version, when earlier ones were dropped: there is nothing to diff it with.
EARLIER_NOT_KEPT = "earlier versions not kept"


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    submitted_at: float
    deployment_status: DeploymentStatus | None
    stable: bool
    current: bool
    summary: str  # what changed since the previous kept version


def history(
    versions: Sequence[JobVersion], current: int, deployment: Deployment | None
) -> list[HistoryEntry]:
    """The kept versions (given oldest first, as the store reads them), newest first, each
    with what changed since the one before it.

    A version's status is copied to it only when its deployment ends; until
    then it is the status of the job's `deployment`, if that is its own.
    """
    entries = []
    previous: JobVersion | None = None
    for kept in versions:
        if previous is None and kept.version > 1:
            summary = EARLIER_NOT_KEPT
        else:
            summary = summarize(previous.spec if previous else None, kept.spec)
        status = kept.deployment_status
        if status is None and deployment is not None and deployment.version == kept.version:
            status = deployment.status
        entries.append(
            HistoryEntry(
                version=kept.version,
                submitted_at=kept.submitted_at,
                deployment_status=status,
                stable=status is DeploymentStatus.SUCCESSFUL,
                current=kept.version == current,
                summary=summary,
            )
        )
        previous = kept
    return entries[::-1]


def rollback_target(
    job: str, versions: Sequence[JobVersion], current: int, requested: int | None
) -> JobVersion:
    """The version to go back to: `requested`, or else the newest stable one older than
    `current`. Raises `JobRejected` (404 for a version not kept, 409 otherwise) saying why."""
    if requested is not None:
        found = next((kept for kept in versions if kept.version == requested), None)
        if found is None:
            raise JobRejected(
                "version-not-found",
                "No such version",
                f"job {job} has no version {requested}: `ozy history {job}` lists the versions"
                f" kept (the last {HISTORY_LENGTH})",
                status=404,
            )
        if requested == current:
            raise JobRejected(
                "version-is-current",
                "Already at that version",
                f"version {requested} is job {job}'s current version",
                status=409,
            )
        return found
    older = [kept for kept in versions if kept.version < current]
    stable = [kept for kept in older if kept.stable]
    if stable:
        return max(stable, key=lambda kept: kept.version)
    raise JobRejected(
        "no-stable-version",
        "No stable version to roll back to",
        f"no version of job {job} before its current version {current} is stable (a version"
        f" is stable once its deployment succeeded): {_statuses(older)}; name the version to go"
        f" back to (`ozy rollback {job} --to VERSION`)",
        status=409,
    )


def _statuses(versions: Sequence[JobVersion]) -> str:
    """ "version 2 failed, version 1 (no deployment result)", newest first; or that there
    is none."""
    if not versions:
        return "no earlier version is kept"
    return ", ".join(
        f"version {kept.version} {kept.deployment_status.value}"
        if kept.deployment_status
        else f"version {kept.version} (no deployment result)"
        for kept in sorted(versions, key=lambda kept: kept.version, reverse=True)
    )
