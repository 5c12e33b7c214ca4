"""Re-placing the instances of nodes that died, and placing pending ones once room appears.

Every node runs a `Replacer`; there is no leader. It is level-triggered:
whenever the nodes, allocations, cordons, jobs or schedules change, it looks
for jobs with instances on nodes that are no longer registered (their lease
expired or was revoked) or instances left pending, plans them in the
scheduler's as-many-as-fit mode, and commits with the usual compare-and-swap.
Survivors race: the first commit wins, the others lose on the schedule's
revision and, re-reading etcd, find nothing left to do.

A system job's instances are not its business: they belong to their nodes,
and go with them (see system_jobs.py).

Because it looks at the state rather than at events, nothing is missed when
no survivor was running as a node died: whoever starts next re-places them.

A dead node's allocation total is not under its lease (it is the scheduler's
bookkeeping). Re-placement moves the instances' share off it, like any plan
that moves instances, so it drops to zero as its jobs are re-placed and the
totals always equal the sum of the placed pods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ozymandias.cluster.records import Event, JobRecord, Schedule
from ozymandias.deployments.schedules import with_rollout_state, without_surge
from ozymandias.metrics.scheduler import (
    PENDING_INSTANCES,
    PLAN_DURATION,
    REPLACEMENTS,
    count_commit,
)
from ozymandias.scheduling.place import PlanResult, plan_as_many_as_fit
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.view import ClusterView
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
    """A re-placement lost every race it tried: the next change of the cluster retries it."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"lost {attempts} races")


def needs_placement(schedule: Schedule, live_nodes: Iterable[str]) -> bool:
    """Whether a job has instances on nodes that are gone, or instances left pending.

    A deployment's surge instances are not the job's count: the deployer drops those lost.
    """
    live = set(live_nodes)
    return bool(schedule.pending) or any(
        node not in live
        for index, node in schedule.placements.items()
        if index not in schedule.surge
    )


class Replacer:
    """Re-places lost instances and retries pending ones, racing its peers through etcd."""

    def __init__(self, store: ClusterStore, mirrors: ClusterMirrors, *, node_name: str) -> None:
        self._store = store
        self._mirrors = mirrors
        self._node_name = node_name

    async def run(self) -> None:
        """Keep every job placed as fully as the cluster allows, until cancelled."""
        mirrors = self._mirrors
        await mirrors.wait_synced()
        watched: list[Mirror[Any]] = [
            mirrors.nodes,
            mirrors.allocations,
            mirrors.cordons,
            mirrors.jobs,
            mirrors.schedules,
        ]
        known_nodes = self._live_nodes()
        while True:
            since = [(mirror, mirror.revision) for mirror in watched]
            live = self._live_nodes()
            PENDING_INSTANCES.set(self._pending_count())
            await self._note_lost(known_nodes - live, live)
            known_nodes = live
            try:
                for job_name in self._jobs_needing_placement(live):
                    await self._place_job(job_name)
            except StoreUnavailable as error:
                log.warning("re-placement pass stopped: %s; retrying", error)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            await any_changed(since)

    def _live_nodes(self) -> set[str]:
        return {node.name for node in self._mirrors.node_list()}

    def _pending_count(self) -> int:
        # Walked on each pass, which already looks at every schedule: never per scrape.
        return sum(len(schedule.pending) for schedule in self._mirrors.schedules.items.values())

    def _jobs_needing_placement(self, live: set[str]) -> list[str]:
        return sorted(
            schedule.job
            for schedule in self._mirrors.schedules.items.values()
            if needs_placement(schedule, live) and not _is_system(self._mirrors.job(schedule.job))
        )

    async def _note_lost(self, lost: set[str], live: set[str]) -> None:
        """Record each vanished node once: the first live node by name writes the event."""
        if not lost or min(live, default=self._node_name) != self._node_name:
            return
        for name in sorted(lost):
            log.warning(
                "node %s is gone (its lease expired or was revoked)",
                name,
                extra={"lost_node": name},
            )
            await self._store.record_event(
                Event(
                    time=time.time(),
                    kind="node-lost",
                    message=f"node {name} lost: its lease expired or was revoked "
                    f"(noticed by {self._node_name})",
                    node=name,
                )
            )

    async def _place_job(self, job_name: str) -> None:
        """Plan and commit one job's re-placement; a lost race means re-read and look again."""

        async def attempt(number: int) -> Lost | None:
            inputs = (
                self._mirrors.planning_inputs(job_name)
                if number == 0
                else await self._store.read_planning_inputs(job_name)
            )
            # Off the event loop, as every plan is (see jobs/service.py).
            with PLAN_DURATION.labels("replacement").time():
                plan = await asyncio.to_thread(plan_replacement, inputs)
            if plan is None:
                return None  # placed as fully as it can be (perhaps by a peer that won)
            outcome = await self._store.commit(
                job_name,
                inputs,
                job=inputs.job,
                schedule=plan.schedule,
                allocation_changes=plan.allocation_delta,
                nodes_that_must_exist=sorted(set(plan.placed.values())),
            )
            count_commit(outcome.won)
            if not outcome.won:
                return LOST
            await self._record_outcome(job_name, inputs, plan)
            return None

        try:
            await retry_on_conflict(
                attempt,
                give_up=_KeptLosing,
                on_lost=lambda number: log.debug(
                    "re-placement of %s lost a race (attempt %d)", job_name, number + 1
                ),
            )
        except _KeptLosing:
            log.warning(
                "re-placement of %s kept losing races; the next change retries it",
                job_name,
                extra={"job": job_name},
            )

    async def _record_outcome(
        self, job_name: str, inputs: PlanningInputs, plan: PlanResult
    ) -> None:
        before = inputs.schedule.placements if inputs.schedule is not None else {}
        live = {node.name for node in inputs.nodes}
        lost_nodes = sorted({before[i] for i in plan.placed if before.get(i) not in (None, *live)})
        if plan.placed:
            REPLACEMENTS.labels(job_name).inc(len(plan.placed))
            moves = ", ".join(f"{job_name}-{i}→{node}" for i, node in sorted(plan.placed.items()))
            origin = f" from lost node {', '.join(lost_nodes)}" if lost_nodes else ""
            message = f"re-placed {moves}{origin} (by peer {self._node_name})"
            log.info(
                "%s",
                message,
                extra={
                    "job": job_name,
                    "version": inputs.job.version if inputs.job is not None else None,
                    "nodes": sorted(set(plan.placed.values())),
                    "lost_nodes": lost_nodes,
                },
            )
            await self._event(job_name, "instances-replaced", message)
        newly_pending = sorted(
            set(plan.schedule.pending) - set(inputs.schedule.pending if inputs.schedule else {})
        )
        if newly_pending:
            names = ", ".join(f"{job_name}-{i}" for i in newly_pending)
            reason = plan.schedule.pending[newly_pending[0]]
            message = f"{names} left pending: {reason} (by peer {self._node_name})"
            log.warning("%s", message, extra={"job": job_name})
            await self._event(job_name, "instances-pending", message)

    async def _event(self, job_name: str, kind: str, message: str) -> None:
        await self._store.record_event(
            Event(time=time.time(), kind=kind, message=message, job=job_name, node=self._node_name)
        )


def _is_system(record: JobRecord | None) -> bool:
    return record is not None and record.spec.is_system


def plan_replacement(inputs: PlanningInputs) -> PlanResult | None:
    """The as-many-as-fit plan for a job that needs one, or None when it would change nothing."""
    if inputs.job is None or inputs.schedule is None or inputs.job.spec.is_system:
        return None  # a system job's instances belong to their nodes: see system_jobs.py
    live = [node.name for node in inputs.nodes]
    if not needs_placement(inputs.schedule, live):
        return None
    view = ClusterView.from_records(
        inputs.nodes, inputs.allocated(), inputs.cordoned, inputs.shared_allocated()
    )
    current = inputs.schedule
    plan = plan_as_many_as_fit(
        request_from_spec(inputs.job.spec, inputs.job_volumes()),
        without_surge(current),
        view,
        instance_states=inputs.instance_states,
    )
    # A deployment's pins and surge instances stay as they were (a surge
    # instance on a dead node is the deployer's to drop).
    plan = replace(plan, schedule=with_rollout_state(current, plan.schedule))
    # Only a different placement, or a different set of pending instances, is
    # worth a commit: an updated pending reason alone would make every peer
    # rewrite the schedule on every change of the cluster.
    if plan.schedule.placements == current.placements and set(plan.schedule.pending) == set(
        current.pending
    ):
        return None
    return plan
