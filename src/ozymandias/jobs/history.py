"""`ozy history` and `ozy rollback`: a job's kept versions, and going back to one of them.

A rollback restores the whole spec of the version it goes to, its instance
count included, as Nomad's `job revert` does, and submits it like any
`apply`: a new version, rolled out by the job's update policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ozymandias.jobs.errors import JobNotFound
from ozymandias.jobs.service import ApplyResult, JobService
from ozymandias.jobs.versions import HistoryEntry, history, rollback_target
from ozymandias.plans.history_summary import summarize
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore


@dataclass(frozen=True)
class Rollback:
    result: ApplyResult
    target: int  # the version whose spec was submitted again
    changes: str  # what the rollback changes in the current spec


class JobHistory:
    def __init__(self, store: ClusterStore, mirrors: ClusterMirrors, jobs: JobService) -> None:
        self._store = store
        self._mirrors = mirrors
        self._jobs = jobs

    async def versions(self, name: str) -> list[HistoryEntry]:
        """The job's kept versions, newest first."""
        current = self._mirrors.job(name)
        if current is None:
            raise JobNotFound(name)
        kept = await self._store.job_versions(name)
        return history(kept, current.version, self._mirrors.deployment(name))

    async def rollback(
        self, name: str, version: int | None = None, *, dry_run: bool = False
    ) -> Rollback:
        """Submit `version`'s spec again (by default, the newest stable version before the
        current one). Raises `JobNotFound`, or `JobRejected` when there is no such version
        to go back to, or its spec cannot be placed now."""
        current = self._mirrors.job(name)
        if current is None:
            raise JobNotFound(name)
        kept = await self._store.job_versions(name)
        target = rollback_target(name, kept, current.version, version)
        result = await self._jobs.apply(target.spec, dry_run=dry_run)
        return Rollback(result, target.version, summarize(current.spec, target.spec))
