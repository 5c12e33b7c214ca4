"""Carrying out a rebalance, one step at a time (pure).

Each move is carried out by a deployment of its job's current version whose
`moves` pins the replacement on the move's target: rollout.py counts the
moved instance as outdated and replaces it surge-first, so the new instance
is healthy on the target before the old one stops. A step reads the
rebalance and the jobs' deployments and says which moves to start, and how
far each started one got:

- a move's state follows its deployment (one whose `moves` is the move's,
  created since the rebalance began): running, it is moving; successful,
  done; failed, failed;
- at most `max_moves` are in flight, and never two of the same job (a job
  has one deployment at a time anyway);
- a move whose instance left its source, whose job went, or whose target
  is no longer live and uncordoned, is skipped; one whose job is in another
  deployment waits for it to end;
- the rebalance ends once every move has.

Starting a move and noting it are two writes: the deployment first, then this
record. A deployment that landed whose note did not is found again by the
next step, as its `moves` match.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from ozymandias.cluster.rebalance_record import MoveState, Rebalance, RebalanceMove
from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    JobRecord,
    Schedule,
    instance_name,
)
from ozymandias.scheduling.rebalance import RebalancePlan


@dataclass(frozen=True)
class RebalanceStep:
    """The rebalance as it now stands, and the moves whose deployments to start."""

    rebalance: Rebalance
    start: list[RebalanceMove] = field(default_factory=list)


def step_rebalance(
    rebalance: Rebalance,
    jobs: Mapping[str, JobRecord],
    schedules: Mapping[str, Schedule],
    deployments: Mapping[str, Deployment],
    eligible: Collection[str],
    now: float,
) -> RebalanceStep:
    """The rebalance's next state; `eligible` are the live, uncordoned nodes."""
    if not rebalance.active:
        return RebalanceStep(rebalance)
    moves = [
        _observe(move, rebalance, jobs, schedules, deployments.get(move.job), eligible)
        for move in rebalance.moves
    ]
    in_flight = {move.job for move in moves if move.state is MoveState.MOVING}
    start: list[RebalanceMove] = []
    for move in moves:
        if len(in_flight) >= rebalance.max_moves:
            break
        if move.state is not MoveState.PENDING or move.job in in_flight:
            continue
        deployment = deployments.get(move.job)
        if deployment is not None and deployment.status.active:
            continue  # another deployment of the job: the move waits for it to end
        start.append(move)
        in_flight.add(move.job)
    finished = all(move.state.ended for move in moves)
    updated = rebalance.model_copy(update={"moves": moves, "finished_at": now if finished else 0.0})
    return RebalanceStep(updated, start)


def new_rebalance(
    plan: RebalancePlan, now: float, *, max_moves: int, threshold: float, trigger: str = ""
) -> Rebalance:
    """The record of a rebalance of the plan's moves; with none, it is over at once."""
    moves = plan.moves
    return Rebalance(
        started_at=now,
        nodes=sorted(plan.before),
        finished_at=0.0 if moves else now,
        max_moves=max_moves,
        threshold=threshold,
        trigger=trigger,
        moves=[
            RebalanceMove(job=move.job, index=move.index, source=move.source, target=move.target)
            for move in moves
        ],
    )


def move_deployment(record: JobRecord, move: RebalanceMove, now: float) -> Deployment:
    """The deployment that carries out `move`: the job's version again, one instance at a
    time, no canaries, no revert (nothing changes but where the instance runs)."""
    update = record.spec.update.model_copy(
        update={"canary": 0, "max_parallel": 1, "auto_revert": False}
    )
    name = instance_name(move.job, move.index)
    return Deployment(
        job=record.spec.name,
        version=record.version,
        update=update,
        created_at=now,
        updated_at=now,
        last_progress_at=now,
        desired=record.spec.num_instances,
        moves={move.index: move.target},
        description=f"rebalancing: moving {name} from {move.source} to {move.target}",
    )


def _observe(
    move: RebalanceMove,
    rebalance: Rebalance,
    jobs: Mapping[str, JobRecord],
    schedules: Mapping[str, Schedule],
    deployment: Deployment | None,
    eligible: Collection[str],
) -> RebalanceMove:
    """The move as its deployment (or the lack of one) shows it now."""
    if move.state.ended:
        return move
    if _carries(deployment, move, rebalance):
        assert deployment is not None
        status = deployment.status
        if status.active:
            return move.model_copy(
                update={"state": MoveState.MOVING, "started_at": deployment.created_at}
            )
        if status is DeploymentStatus.SUCCESSFUL:
            return move.model_copy(update={"state": MoveState.DONE})
        return move.model_copy(update={"state": MoveState.FAILED, "reason": deployment.description})
    name = instance_name(move.job, move.index)
    if move.state is MoveState.MOVING:
        return move.model_copy(
            update={
                "state": MoveState.FAILED,
                "reason": f"another deployment of {move.job} took the place of the move's",
            }
        )
    schedule = schedules.get(move.job)
    reason = ""
    if move.job not in jobs or schedule is None:
        reason = f"job {move.job} is gone"
    elif schedule.placements.get(move.index) != move.source:
        reason = f"{name} is no longer on {move.source}"
    elif move.target not in eligible:
        reason = f"node {move.target} is gone or cordoned"
    if reason:
        return move.model_copy(update={"state": MoveState.SKIPPED, "reason": reason})
    return move


def _carries(deployment: Deployment | None, move: RebalanceMove, rebalance: Rebalance) -> bool:
    return (
        deployment is not None
        and deployment.moves == {move.index: move.target}
        and deployment.created_at >= rebalance.started_at
    )
