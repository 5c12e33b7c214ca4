"""Stepping a rebalance (deployments/rebalance_run.py): which moves start, and how far each got."""

from __future__ import annotations

from ozymandias.cluster.rebalance_record import MoveState, Rebalance, RebalanceMove
from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    JobRecord,
    Resources,
    Schedule,
)
from ozymandias.deployments.rebalance_run import move_deployment, new_rebalance, step_rebalance
from ozymandias.scheduling.rebalance import Move, RebalancePlan
from ozymandias.spec.loader import job_from_data

NOW = 1000.0
STARTED = 900.0
NODES = {"a", "b", "c"}


def job(name: str) -> JobRecord:
    spec = job_from_data(
        {"name": name, "numInstances": 3, "containers": {"app": {"image": "x", "memory": "64M"}}}
    )
    return JobRecord(spec=spec, version=1)


JOBS = {"web": job("web"), "api": job("api"), "db": job("db")}
SCHEDULES = {
    name: Schedule(job=name, placements={0: "a", 1: "a", 2: "b"}) for name in ("web", "api", "db")
}
WEB_1 = RebalanceMove(job="web", index=1, source="a", target="c")
WEB_0 = RebalanceMove(job="web", index=0, source="a", target="c")
API_1 = RebalanceMove(job="api", index=1, source="a", target="c")
DB_1 = RebalanceMove(job="db", index=1, source="a", target="c")


def rebalance(*moves: RebalanceMove, max_moves: int = 2) -> Rebalance:
    return Rebalance(started_at=STARTED, max_moves=max_moves, threshold=0.0, moves=list(moves))


def carrying(move: RebalanceMove, status: DeploymentStatus, **fields: object) -> Deployment:
    deployment = move_deployment(JOBS[move.job], move, STARTED + 1)
    return deployment.model_copy(update={"status": status, **fields})


def states(result: Rebalance) -> list[MoveState]:
    return [move.state for move in result.moves]


def test_moves_start_up_to_max_moves_and_never_two_of_one_job() -> None:
    step = step_rebalance(rebalance(WEB_1, WEB_0, API_1, DB_1), JOBS, SCHEDULES, {}, NODES, NOW)
    assert step.start == [WEB_1, API_1]
    assert step.rebalance.active


def test_one_move_at_a_time_with_max_moves_one() -> None:
    step = step_rebalance(rebalance(WEB_1, API_1, max_moves=1), JOBS, SCHEDULES, {}, NODES, NOW)
    assert step.start == [WEB_1]


def test_a_started_deployment_makes_its_move_moving_and_takes_a_slot() -> None:
    deployments = {"web": carrying(WEB_1, DeploymentStatus.RUNNING)}
    step = step_rebalance(
        rebalance(WEB_1, WEB_0, API_1, DB_1), JOBS, SCHEDULES, deployments, NODES, NOW
    )
    assert states(step.rebalance)[0] is MoveState.MOVING
    assert step.rebalance.moves[0].started_at == STARTED + 1
    assert step.start == [API_1]  # WEB_0 waits for its job's move


def test_a_finished_deployment_ends_its_move_and_the_next_of_the_job_starts() -> None:
    deployments = {"web": carrying(WEB_1, DeploymentStatus.SUCCESSFUL)}
    step = step_rebalance(rebalance(WEB_1, WEB_0), JOBS, SCHEDULES, deployments, NODES, NOW)
    assert states(step.rebalance) == [MoveState.DONE, MoveState.PENDING]
    assert step.start == [WEB_0]


def test_a_failed_deployment_fails_its_move_and_says_why() -> None:
    deployments = {
        "web": carrying(WEB_1, DeploymentStatus.FAILED, description="web-3 failed (no image)")
    }
    step = step_rebalance(rebalance(WEB_1), JOBS, SCHEDULES, deployments, NODES, NOW)
    assert states(step.rebalance) == [MoveState.FAILED]
    assert step.rebalance.moves[0].reason == "web-3 failed (no image)"
    assert step.rebalance.finished_at == NOW
    assert step.rebalance.failed == step.rebalance.moves


def test_every_move_ended_finishes_the_rebalance() -> None:
    deployments = {
        "web": carrying(WEB_1, DeploymentStatus.SUCCESSFUL),
        "api": carrying(API_1, DeploymentStatus.SUCCESSFUL),
    }
    step = step_rebalance(rebalance(WEB_1, API_1), JOBS, SCHEDULES, deployments, NODES, NOW)
    assert states(step.rebalance) == [MoveState.DONE, MoveState.DONE]
    assert not step.rebalance.active and not step.rebalance.failed
    assert step.start == []


def test_a_move_waits_while_its_job_is_in_another_deployment() -> None:
    other = carrying(WEB_1, DeploymentStatus.RUNNING).model_copy(update={"moves": {}})
    step = step_rebalance(rebalance(WEB_1), JOBS, SCHEDULES, {"web": other}, NODES, NOW)
    assert states(step.rebalance) == [MoveState.PENDING]
    assert step.start == []


def test_an_older_deployment_with_the_same_moves_is_not_this_rebalances() -> None:
    old = carrying(WEB_1, DeploymentStatus.SUCCESSFUL, created_at=STARTED - 100)
    step = step_rebalance(rebalance(WEB_1), JOBS, SCHEDULES, {"web": old}, NODES, NOW)
    assert states(step.rebalance) == [MoveState.PENDING]
    assert step.start == [WEB_1]


def test_a_moving_move_whose_deployment_was_replaced_failed() -> None:
    moving = WEB_1.model_copy(update={"state": MoveState.MOVING, "started_at": STARTED + 1})
    newer = carrying(WEB_1, DeploymentStatus.RUNNING).model_copy(update={"moves": {}})
    step = step_rebalance(rebalance(moving), JOBS, SCHEDULES, {"web": newer}, NODES, NOW)
    assert states(step.rebalance) == [MoveState.FAILED]
    assert "another deployment of web" in step.rebalance.moves[0].reason


def test_moves_that_no_longer_apply_are_skipped_with_the_reason() -> None:
    moved = {**SCHEDULES, "api": Schedule(job="api", placements={0: "a", 1: "b", 2: "b"})}
    jobs = {name: record for name, record in JOBS.items() if name != "db"}
    gone_target = WEB_1.model_copy(update={"target": "d"})
    step = step_rebalance(rebalance(gone_target, API_1, DB_1), jobs, moved, {}, NODES, NOW)
    assert states(step.rebalance) == [MoveState.SKIPPED] * 3
    assert [move.reason for move in step.rebalance.moves] == [
        "node d is gone or cordoned",
        "api-1 is no longer on a",
        "job db is gone",
    ]
    assert step.start == []
    assert not step.rebalance.active


def test_an_ended_rebalance_takes_no_step() -> None:
    ended = rebalance(WEB_1).model_copy(update={"finished_at": STARTED + 5})
    step = step_rebalance(ended, JOBS, SCHEDULES, {}, NODES, NOW)
    assert step.rebalance == ended and step.start == []


def test_a_rebalance_with_no_moves_is_finished_at_once() -> None:
    step = step_rebalance(rebalance(), JOBS, SCHEDULES, {}, NODES, NOW)
    assert step.rebalance.finished_at == NOW


def test_a_new_rebalance_keeps_the_plans_moves_and_nodes() -> None:
    plan = RebalancePlan(
        moves=[Move("web", 1, "a", "c")],
        before={"a": Resources(), "b": Resources(), "c": Resources()},
        after={},
        mean_share=0.5,
        lower_bound=1,
    )
    record = new_rebalance(plan, NOW, max_moves=3, threshold=0.1, trigger="node c joined")
    assert record.moves == [WEB_1.model_copy(update={"target": "c"})]
    assert (record.nodes, record.max_moves, record.trigger) == (["a", "b", "c"], 3, "node c joined")
    assert record.active
    nothing = RebalancePlan([], plan.before, {}, 0.5, 0)
    empty = new_rebalance(nothing, NOW, max_moves=2, threshold=0)
    assert empty.finished_at == NOW and empty.moves == []
