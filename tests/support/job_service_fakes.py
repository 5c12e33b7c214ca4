"""In-memory stand-ins for the store and the mirrors a `JobService` plans and commits with,
for unit tests of its logic (the real ones are tested against a real etcd)."""

from __future__ import annotations

from typing import Any

from ozymandias.store.job_commit import CommitOutcome, CommitResult
from ozymandias.store.planning_inputs import PlanningInputs


class Etcd:
    """What etcd holds (`truth`), and a store whose commit is guarded by the job's revision, as
    the real transaction is (store/job_commit.py)."""

    def __init__(self, truth: PlanningInputs) -> None:
        self.truth = truth
        self.commits: list[int] = []  # the job revision each commit was planned from
        self.fresh_reads = 0

    async def read_planning_inputs(self, _: str, **__: Any) -> PlanningInputs:
        self.fresh_reads += 1
        return self.truth

    async def commit(self, _: str, basis: PlanningInputs, **__: Any) -> CommitOutcome:
        self.commits.append(basis.job_revision)
        if basis.job_revision != self.truth.job_revision:
            return CommitOutcome(CommitResult.LOST, 0)
        return CommitOutcome(CommitResult.WON, 0)

    async def record_event(self, _: object) -> None:
        pass


class Mirrors:
    def __init__(self, seen: PlanningInputs) -> None:
        self.seen = seen

    def planning_inputs(self, _: str) -> PlanningInputs:
        return self.seen

    def secret_keys(self) -> dict[str, list[str]]:
        return {}

    def secret_revision(self, _: str) -> int:
        return 0

    def other_jobs(self, _: str) -> dict[str, Any]:
        return {}
