"""Keeping every system job on every eligible node as nodes come and go.

Every node runs a `SystemJobs` reconciler; there is no leader. It is
level-triggered, as the `Replacer` is: whenever the nodes (their labels
included), their cordons, the allocations, the jobs or the schedules change,
it re-plans each system job with the pure planner (scheduling/system.py)
and commits a plan that changes something with the usual compare-and-swap.
Peers race; the first commit wins and the others, re-reading etcd, find
nothing left to do. A node that joins gets its instance; one that leaves
takes its instance with it; one without room shows a pending instance until
room appears, or, where this node's `--preemption` lets system jobs preempt (the
default), gets it at once by stopping instances of jobs at least 20 priority
lower there (scheduling/preemption.py), in the same commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ozymandias.cluster.records import Event, Schedule
from ozymandias.jobs.inputs import planning_inputs
from ozymandias.jobs.planning import Placement, place, pod_size
from ozymandias.metrics.scheduler import PLAN_DURATION, count_commit
from ozymandias.scheduling.preemption import DEFAULT_PREEMPTION
from ozymandias.scheduling.system import system_plan_changes
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.mirror import Mirror, any_changed
from ozymandias.store.planning_inputs import PlanningInputs
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

log = logging.getLogger(__name__)

# After a pass that could not finish (etcd unreachable), wait before the next.
_RETRY_SECONDS = 1.0


class _KeptLosing(Exception):
    def __init__(self, attempts: int) -> None:
        super().__init__(f"lost {attempts} races")


def plan_system_job(inputs: PlanningInputs) -> Placement | None:
    """A system job's plan against the cluster now, or None when it would change nothing."""
    record = inputs.job
    if record is None or not record.spec.is_system:
        return None
    placement = place(record.spec, inputs, pod_size(record.spec))
    return placement if system_plan_changes(inputs.schedule, placement.result.schedule) else None


class SystemJobs:
    """Re-plans system jobs on every change of the cluster, racing its peers through etcd."""

    def __init__(
        self,
        store: ClusterStore,
        mirrors: ClusterMirrors,
        *,
        node_name: str,
        preemption: frozenset[str] = DEFAULT_PREEMPTION,
    ) -> None:
        self._store = store
        self._mirrors = mirrors
        self._node_name = node_name
        self._preemption = preemption

    async def run(self) -> None:
        mirrors = self._mirrors
        await mirrors.wait_synced()
        watched: list[Mirror[Any]] = [
            mirrors.nodes,
            mirrors.allocations,
            mirrors.cordons,
            mirrors.jobs,
            mirrors.schedules,
        ]
        while True:
            since = [(mirror, mirror.revision) for mirror in watched]
            try:
                for name in self._system_jobs():
                    if plan_system_job(await self._inputs(name, fresh=False)) is not None:
                        await self._place_job(name)
            except StoreUnavailable as error:
                log.warning("system job pass stopped: %s; retrying", error)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            await any_changed(since)

    def _system_jobs(self) -> list[str]:
        records = self._mirrors.jobs.items.values()
        return sorted(record.spec.name for record in records if record.spec.is_system)

    async def _place_job(self, name: str) -> None:
        async def attempt(number: int) -> Lost | None:
            inputs = await self._inputs(name, fresh=number > 0)
            with PLAN_DURATION.labels("system").time():
                placement = await asyncio.to_thread(plan_system_job, inputs)
            if placement is None:
                return None  # as it should be (perhaps a peer's commit did it)
            plan = placement.result
            outcome = await self._store.commit(
                name,
                inputs,
                job=inputs.job,
                schedule=plan.schedule,
                allocation_changes=plan.allocation_delta,
                nodes_that_must_exist=sorted(set(plan.placed.values())),
                preempted=placement.preempted,
            )
            count_commit(outcome.won)
            if not outcome.won:
                return LOST
            assert inputs.job is not None  # a plan was made, so the job exists
            await self._record_outcome(name, inputs.schedule, placement, inputs.job.spec.priority)
            return None

        try:
            await retry_on_conflict(
                attempt,
                give_up=_KeptLosing,
                on_lost=lambda number: log.debug(
                    "system job %s lost a race (attempt %d)", name, number + 1
                ),
            )
        except _KeptLosing:
            log.warning(
                "system job %s kept losing races; the next change retries it",
                name,
                extra={"job": name},
            )

    async def _inputs(self, name: str, *, fresh: bool) -> PlanningInputs:
        """The job's planning inputs, with the other jobs where system jobs may preempt."""
        preempting = self._preemption if "system" in self._preemption else frozenset()
        return await planning_inputs(
            self._store, self._mirrors, name, fresh=fresh, preempting_types=preempting
        )

    async def _record_outcome(
        self, name: str, before: Schedule | None, placement: Placement, priority: int
    ) -> None:
        plan = placement.result
        after = plan.schedule
        old_nodes = set(before.nodes.values()) if before is not None else set()
        parts = []
        if plan.placed:
            parts.append(f"placed on {', '.join(sorted(plan.placed.values()))}")
        gone = sorted(old_nodes - set(after.nodes.values()))
        if gone:
            parts.append(f"no longer on {', '.join(gone)}")
        newly_pending = sorted(set(after.pending) - set(before.pending if before else {}))
        parts.extend(after.pending[index] for index in newly_pending)
        if parts:
            message = f"{'; '.join(parts)} (by peer {self._node_name})"
            log.info(
                "system job %s: %s",
                name,
                message,
                extra={"job": name, "nodes": sorted(set(plan.placed.values()))},
            )
            await self._store.record_event(
                Event(
                    time=time.time(),
                    kind="system-job-placed",
                    message=message,
                    job=name,
                    node=self._node_name,
                )
            )
        for victim in placement.victims:
            await self._store.record_event(
                Event(
                    time=time.time(),
                    kind="instance-preempted",
                    message=f"{victim.job}-{victim.index} on {victim.node} preempted by {name} "
                    f"(priority {priority})",
                    job=victim.job,
                    node=self._node_name,
                )
            )
