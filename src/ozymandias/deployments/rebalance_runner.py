"""The part of the deployer that carries out a rebalance (`ozy rebalance`).

One live node steps the rebalance: the one that ranks first for it by the
same rendezvous hashing as a job's deployment, so when it dies the next one
goes on. A step (`rebalance_run.step_rebalance`, pure) starts the moves'
deployments, each committed like any job change; the deployers responsible
for those jobs then take them, surge first. The record is written back with
a compare-and-swap on its revision.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ozymandias.cluster.rebalance_record import Rebalance
from ozymandias.cluster.records import Event, instance_name
from ozymandias.deployments.auto_rebalance import auto_trigger
from ozymandias.deployments.rebalance import movable_job
from ozymandias.deployments.rebalance_run import move_deployment, new_rebalance, step_rebalance
from ozymandias.scheduling.rebalance import RebalancePlan, plan_rebalance
from ozymandias.scheduling.view import ClusterView
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.mirror import Mirror
from ozymandias.store.rebalance_store import write_rebalance

log = logging.getLogger(__name__)

# The name the rebalance is ranked under (no job can be named with a NUL).
REBALANCE_RANK_KEY = "\0rebalance"
# After a write that lost its race, or mirrors that lag: look again soon.
_RETRY_SECONDS = 0.5
# Moves in flight at once in a rebalance the cluster starts by itself (`ozy rebalance`'s
# default).
AUTO_MAX_MOVES = 2


def plan_from_mirrors(mirrors: ClusterMirrors, threshold: float) -> RebalancePlan:
    """The rebalance plan over this node's mirrors (see `scheduling/rebalance.py`)."""
    view = ClusterView.from_records(mirrors.node_list(), mirrors.allocated(), mirrors.cordoned())
    jobs = [
        movable
        for name, record in sorted((r.spec.name, r) for r in mirrors.jobs.items.values())
        if (movable := movable_job(record, mirrors.schedule(name), mirrors.deployment(name)))
    ]
    return plan_rebalance(view, jobs, tolerance=threshold)


async def advance_rebalance(store: ClusterStore, mirrors: ClusterMirrors, node_name: str) -> bool:
    """Take the rebalance's next step; True when something was written (look again soon)."""
    rebalance = mirrors.rebalance()
    if rebalance is None or not rebalance.active:
        return False
    revision = mirrors.rebalances.mod_revisions.get(keys.REBALANCE_CURRENT, 0)
    jobs = {record.spec.name: record for record in mirrors.jobs.items.values()}
    schedules = {schedule.job: schedule for schedule in mirrors.schedules.items.values()}
    deployments = {d.job: d for d in mirrors.deployments.items.values()}
    cordoned = mirrors.cordoned()
    eligible = {node.name for node in mirrors.node_list() if node.name not in cordoned}
    now = time.time()
    step = step_rebalance(rebalance, jobs, schedules, deployments, eligible, now)
    written = step.rebalance != rebalance
    if written:
        # Noted before any move starts: a move's end is seen only while its deployment is
        # the job's, and the job's next move replaces it.
        landed = await write_rebalance(store.etcd, step.rebalance, revision)
        if not landed:
            return True
        await _wait_for(mirrors.rebalances, landed)
        await _said_ended(store, node_name, rebalance, step.rebalance)
    started = False
    for move in step.start:
        deployment = move_deployment(jobs[move.job], move, now)
        inputs = mirrors.planning_inputs(move.job)
        outcome = await store.commit(
            move.job,
            inputs,
            job=inputs.job,
            schedule=inputs.schedule,
            allocation_changes={},
            nodes_that_must_exist=[],
            deployment=deployment,
        )
        if outcome.won:
            started = True
            await _event(store, move.job, node_name, deployment.description)
            if outcome.revision:
                # The next step notes the started move from the mirrors.
                await _wait_for(mirrors.deployments, outcome.revision)
    return written or started


async def _said_ended(
    store: ClusterStore, node_name: str, before: Rebalance, after: Rebalance
) -> None:
    """An event for each move that ended in this step, and a log line once all have."""
    for move, earlier in zip(after.moves, before.moves, strict=True):
        if move.state is not earlier.state and move.state.ended:
            name = instance_name(move.job, move.index)
            text = f"rebalance: {name} {move.source} -> {move.target}: {move.state}"
            await _event(store, move.job, node_name, f"{text} {move.reason}".strip())
    if not after.active:
        failed = len(after.failed)
        log.info("rebalance finished: %d move(s), %d failed", len(after.moves), failed)


async def maybe_auto_rebalance(
    store: ClusterStore, mirrors: ClusterMirrors, node_name: str, threshold: float
) -> None:
    """Start a rebalance if a node joined or one is far above the mean (`auto_rebalance.py`).

    The write is a compare-and-swap on the record as this node's mirror has it, so it
    lands only if no other rebalance started meanwhile. A join with nothing to move is
    written too (a rebalance already over), so the next look knows the node.
    """
    view = ClusterView.from_records(mirrors.node_list(), mirrors.allocated(), mirrors.cordoned())
    last = mirrors.rebalance()
    now = time.time()
    trigger = auto_trigger(view, threshold, last, now)
    if trigger is None:
        return
    if trigger.joined and any(d.status.active for d in mirrors.deployments.items.values()):
        return  # their instances may not move yet: the join is taken up once they end
    plan = plan_from_mirrors(mirrors, 0.0)
    if not plan.moves and not trigger.joined:
        return
    record = new_rebalance(
        plan, now, max_moves=AUTO_MAX_MOVES, threshold=threshold, trigger=trigger.reason
    )
    revision = mirrors.rebalances.mod_revisions.get(keys.REBALANCE_CURRENT, 0)
    if await write_rebalance(store.etcd, record, revision) and plan.moves:
        message = f"rebalancing by itself ({trigger.reason}): {len(plan.moves)} move(s)"
        log.info("%s", message)
        await store.record_event(
            Event(time=now, kind="rebalance", message=message, job="", node=node_name)
        )


async def _wait_for(mirror: Mirror[Any], revision: int) -> None:
    try:
        async with asyncio.timeout(_RETRY_SECONDS * 4):
            await mirror.wait_for_revision(revision)
    except TimeoutError:
        log.warning("mirrors did not show revision %d in time", revision)


async def _event(store: ClusterStore, job: str, node_name: str, message: str) -> None:
    await store.record_event(
        Event(time=time.time(), kind="deployment", message=message, job=job, node=node_name)
    )
