"""The part every node runs that takes the steps of running deployments.

Like the `Replacer`, it is level-triggered: whenever the jobs, schedules,
deployments, statuses or nodes change, or a deadline or min_healthy_time
comes due, it computes the next step of each running deployment
(`rollout.next_step`, pure) and commits it with the usual compare-and-swap.

There is no leader, but each job's deployment is advanced by one node: the
live node that ranks first for the job by rendezvous hashing. Any node can
compute the same ranking from its mirror of the nodes, so when that node
dies (its record vanishes with its lease), the next one takes over and the
deployment goes on. Were two nodes to disagree for a moment, the
compare-and-swap lets only one step land.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import replace
from typing import Any

from ozymandias.cluster.records import Deployment, DeploymentStatus, Event, Resources, Schedule
from ozymandias.deployments.begin import version_entry
from ozymandias.deployments.drain import (
    drain_deployment,
    on_nodes,
    stop_drained,
    stop_system_on,
    system_ready_to_stop,
)
from ozymandias.deployments.rebalance_runner import (
    REBALANCE_RANK_KEY,
    advance_rebalance,
    maybe_auto_rebalance,
)
from ozymandias.deployments.rollout import RolloutState, Step, next_step, wake_at
from ozymandias.jobs.planning import pod_size
from ozymandias.jobs.service import JobService
from ozymandias.metrics.deployments import count_end
from ozymandias.metrics.scheduler import count_commit
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.view import ClusterView
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.mirror import Mirror, any_changed
from ozymandias.store.planning_inputs import PlanningInputs

log = logging.getLogger(__name__)

# After a step that lost its race or could not reach etcd: look again soon.
_RETRY_SECONDS = 0.5
# With --auto-rebalance, how often the node that decides looks at the cluster's balance.
AUTO_REBALANCE_CHECK_SECONDS = 5.0


def responsible_node(job: str, live_nodes: list[str]) -> str | None:
    """The live node that advances `job`'s deployment (rendezvous hashing)."""
    return max(
        live_nodes,
        key=lambda node: hashlib.sha256(f"{job}\0{node}".encode()).digest(),
        default=None,
    )


class Deployer:
    """Advances the running deployments this node is responsible for."""

    def __init__(
        self,
        store: ClusterStore,
        mirrors: ClusterMirrors,
        jobs: JobService,
        *,
        node_name: str,
        auto_rebalance: float | None = None,
    ) -> None:
        """`auto_rebalance`: the threshold of `ozy node run --auto-rebalance`; None: off."""
        self._store = store
        self._mirrors = mirrors
        self._jobs = jobs
        self._node_name = node_name
        self._auto_rebalance = auto_rebalance
        self._next_balance_check = 0.0

    async def run(self) -> None:
        mirrors = self._mirrors
        await mirrors.wait_synced()
        while True:
            active = self._mine()
            watched: list[Mirror[Any]] = [
                mirrors.nodes,
                mirrors.jobs,
                mirrors.schedules,
                mirrors.deployments,
                mirrors.drains,
                mirrors.rebalances,
                mirrors.cordons,
            ]
            if active:
                # Statuses change often, cluster-wide: followed only while there is a rollout.
                watched += [mirrors.instances, mirrors.allocations]
            since = [(mirror, mirror.revision) for mirror in watched]
            due: list[float] = []
            for job in active:
                try:
                    wake = await self._advance(job)
                except StoreUnavailable as error:
                    log.warning("deployment of %s: %s; retrying", job, error)
                    wake = time.time() + _RETRY_SECONDS
                if wake is not None:
                    due.append(wake)
            if self._auto_rebalance is not None:
                due.append(await self._check_balance(self._auto_rebalance))
            if self._steps_rebalance():
                try:
                    if await advance_rebalance(self._store, mirrors, self._node_name):
                        due.append(time.time() + _RETRY_SECONDS)
                except StoreUnavailable as error:
                    log.warning("rebalance: %s; retrying", error)
                    due.append(time.time() + _RETRY_SECONDS)
            timeout = max(0.0, min(due) - time.time()) + 0.01 if due else None
            try:
                async with asyncio.timeout(timeout):
                    await any_changed(since)
            except TimeoutError:
                pass

    def _mine(self) -> list[str]:
        """The jobs with a running deployment, or instances on a draining node, that this node
        is responsible for."""
        mirrors = self._mirrors
        live = [node.name for node in mirrors.node_list()]
        jobs = {d.job for d in mirrors.deployments.items.values() if d.status.active}
        draining = {drain.node for drain in mirrors.drain_list()}
        if draining:
            jobs |= {
                schedule.job
                for schedule in mirrors.schedules.items.values()
                if on_nodes(schedule, draining)
            }
        return sorted(job for job in jobs if responsible_node(job, live) == self._node_name)

    async def _check_balance(self, threshold: float) -> float:
        """Start a rebalance if the cluster needs one and this node decides; return when to
        look again."""
        now = time.time()
        if now < self._next_balance_check:
            return self._next_balance_check
        self._next_balance_check = now + AUTO_REBALANCE_CHECK_SECONDS
        live = [node.name for node in self._mirrors.node_list()]
        if responsible_node(REBALANCE_RANK_KEY, live) == self._node_name:
            try:
                await maybe_auto_rebalance(self._store, self._mirrors, self._node_name, threshold)
            except StoreUnavailable as error:
                log.warning("automatic rebalance: %s; retrying", error)
        return self._next_balance_check

    def _steps_rebalance(self) -> bool:
        """Whether a rebalance runs and this node is the one that steps it."""
        rebalance = self._mirrors.rebalance()
        if rebalance is None or not rebalance.active:
            return False
        live = [node.name for node in self._mirrors.node_list()]
        return responsible_node(REBALANCE_RANK_KEY, live) == self._node_name

    async def _advance(self, job: str) -> float | None:
        """Take the deployment's next step, if any; return when to look again without a change."""
        mirrors = self._mirrors
        inputs = mirrors.planning_inputs(job)
        record, schedule, deployment = inputs.job, inputs.schedule, inputs.deployment
        if record is None or schedule is None:
            return None
        now = time.time()
        drains = {d.node: d for d in mirrors.drain_list() if on_nodes(schedule, [d.node])}
        waiting_on: list[float] = []  # deadlines of drains a system job's instances wait for
        if record.spec.is_system:
            # Its instances move nowhere: they stop last, and roll out on every other node.
            services = [
                other
                for other in mirrors.schedules.items.values()
                if (other_job := mirrors.job(other.job)) is not None
                and not other_job.spec.is_system
            ]
            ready = system_ready_to_stop(drains, services, now)
            stop = stop_system_on(schedule, ready, pod_size(record.spec))
            if stop is not None:
                return await self._stop_drained(job, inputs, *stop)
            waiting_on = [drain.deadline for drain in drains.values()]
            drains = {}
        if (stopped := stop_drained(schedule, drains, pod_size(record.spec), now)) is not None:
            return await self._stop_drained(job, inputs, *stopped)
        if drains and (deployment is None or not deployment.status.active):
            deployment = drain_deployment(record, drains, now)
            await self._commit_drain_deployment(job, inputs, deployment)
            return time.time()
        if deployment is None:
            return min(waiting_on, default=None)
        state = RolloutState(
            record=record,
            schedule=schedule,
            deployment=deployment,
            statuses={status.index: status for status in mirrors.instance_statuses(job)},
            request=request_from_spec(record.spec, inputs.job_volumes()),
            view=ClusterView.from_records(
                inputs.nodes, inputs.allocated(), inputs.cordoned, inputs.shared_allocated()
            ),
            live_nodes=frozenset(node.name for node in inputs.nodes),
            now=now,
            draining=frozenset(drains),
        )
        step = next_step(state)
        if step is None:
            due = [wake_at(state), *waiting_on, *(drain.deadline for drain in drains.values())]
            return min((when for when in due if when is not None), default=None)
        reverting = self._will_revert(step)
        if reverting:
            reverted = step.deployment.model_copy(update={"status": DeploymentStatus.REVERTED})
            step = replace(step, deployment=reverted)
        final = step.deployment.status
        outcome = await self._store.commit(
            job,
            inputs,
            job=step.record,
            schedule=step.schedule,
            allocation_changes=step.allocation_delta,
            nodes_that_must_exist=sorted(
                {step.schedule.placements[i] for i in step.schedule.surge}
                - set(schedule.placements.values())
            ),
            deployment=step.deployment,
            # A rebalance's move runs the same version again: its end says nothing of the
            # version's stability, which `ozy history` and `ozy rollback` go by.
            new_version=(
                version_entry(step.record, final)
                if step.finished and not step.deployment.moves
                else None
            ),
        )
        count_commit(outcome.won)
        if not outcome.won:
            return time.time() + _RETRY_SECONDS
        if step.finished:
            count_end(job, final)
        if outcome.revision:
            # The next step is computed from the mirrors: let them show this one first.
            try:
                async with asyncio.timeout(_RETRY_SECONDS * 4):
                    await mirrors.deployments.wait_for_revision(outcome.revision)
                    await mirrors.schedules.wait_for_revision(outcome.revision)
            except TimeoutError:
                log.warning("mirrors did not show revision %d in time", outcome.revision)
        failed = step.deployment.status is DeploymentStatus.FAILED
        for message in step.events:
            await self._event(
                job,
                message,
                step.deployment.version,
                level=logging.WARNING if failed else logging.INFO,
            )
        if reverting:
            await self._revert(job, step)
        return time.time()  # look again at once: the next step may be ready

    async def _stop_drained(
        self,
        job: str,
        inputs: PlanningInputs,
        schedule: Schedule,
        delta: dict[str, Resources],
        stopped: list[int],
    ) -> float:
        """Stop what a drain's deadline (or --force) left on its node; placed again elsewhere."""
        outcome = await self._store.commit(
            job,
            inputs,
            job=inputs.job,
            schedule=schedule,
            allocation_changes=delta,
            nodes_that_must_exist=[],
        )
        if not outcome.won:
            return time.time() + _RETRY_SECONDS
        names = ", ".join(f"{job}-{index}" for index in stopped)
        await self._event(job, f"stopped {names}: the drain of its node ended")
        return time.time()

    async def _commit_drain_deployment(
        self, job: str, inputs: PlanningInputs, deployment: Deployment
    ) -> None:
        outcome = await self._store.commit(
            job,
            inputs,
            job=inputs.job,
            schedule=inputs.schedule,
            allocation_changes={},
            nodes_that_must_exist=[],
            deployment=deployment,
        )
        if outcome.won:
            await self._event(job, deployment.description, deployment.version)

    @staticmethod
    def _will_revert(step: Step) -> bool:
        record, deployment = step.record, step.deployment
        return (
            deployment.status is DeploymentStatus.FAILED
            and deployment.update.auto_revert
            and record.stable_version not in (0, record.version)
        )

    async def _revert(self, job: str, step: Step) -> None:
        stable = step.record.stable_version
        entry = await self._store.job_version(job, stable)
        if entry is None:
            log.error("cannot revert %s: version %d is no longer kept", job, stable)
            return
        failed: Deployment = step.deployment
        if await self._jobs.revert(job, failed, entry.spec, stable):
            await self._event(
                job, f"reverting to version {stable}, the last stable one", failed.version
            )

    async def _event(
        self, job: str, message: str, version: int | None = None, level: int = logging.INFO
    ) -> None:
        """Log a deployment's news, and record it for `ozy get events`."""
        fields: dict[str, object] = {"job": job}
        if version is not None:
            fields["version"] = version
        log.log(level, "%s: %s", job, message, extra=fields)
        await self._store.record_event(
            Event(
                time=time.time(), kind="deployment", message=message, job=job, node=self._node_name
            )
        )
