"""A rebalance's move deployments (rollout.py with `Deployment.moves`, deployments/pinned.py):
the replacement starts on the move's target, never where the rankers would put it, and the
old instance goes only once the new one counted healthy."""

from __future__ import annotations

import pytest

from ozymandias.cluster.rebalance_record import RebalanceMove
from ozymandias.cluster.records import (
    DeploymentStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
)
from ozymandias.deployments.pinned import free_index
from ozymandias.deployments.rebalance_run import move_deployment
from ozymandias.deployments.rollout import RolloutState, next_step
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.view import ClusterView
from ozymandias.spec.loader import job_from_data
from ozymandias.spec.sizes import parse_size

NOW = 1000.0
MB = parse_size("1M")
POD = Resources(memory=64 * MB)
NOTHING = Resources()


def job(**extra: object) -> JobRecord:
    data = {
        "name": "web",
        "numInstances": 3,
        "containers": {"app": {"image": "web:1", "memory": "64M"}},
        "update": {"min_healthy_time": "10s"},
    }
    return JobRecord(spec=job_from_data({**data, **extra}), version=1, stable_version=1)


def node(name: str, labels: dict[str, str] | None = None) -> Node:
    return Node(
        name=name,
        address="10.0.0.1",
        api_url="http://x",
        capacity=Resources(memory=parse_size("256M")),
        started_at=0,
        labels=labels or {},
    )


THREE_NODES = (node("a"), node("b"), node("c"))
SCHEDULE = Schedule(job="web", placements={0: "a", 1: "a", 2: "b"}, job_version=1)
MOVE = RebalanceMove(job="web", index=1, source="a", target="c")


def state(
    schedule: Schedule = SCHEDULE,
    *,
    record: JobRecord | None = None,
    statuses: list[InstanceStatus] = (),  # type: ignore[assignment]
    target_used: Resources = NOTHING,
    cordoned: tuple[str, ...] = (),
    nodes: tuple[Node, ...] = THREE_NODES,
    now: float = NOW,
    started: float = NOW,
) -> RolloutState:
    record = record or job()
    deployment = move_deployment(record, MOVE, started)
    # The surge instance, if any, is one this deployment started.
    deployment = deployment.model_copy(update={"placed": dict.fromkeys(schedule.surge, started)})
    used = {"a": POD * 2, "b": POD, "c": target_used}
    for index, where in schedule.placements.items():
        if index in schedule.surge:
            used[where] = used[where] + POD
    return RolloutState(
        record=record,
        schedule=schedule,
        deployment=deployment,
        statuses={status.index: status for status in statuses},
        request=request_from_spec(record.spec),
        view=ClusterView.from_records(list(nodes), used, cordoned),
        live_nodes=frozenset(n.name for n in nodes),
        now=now,
    )


def healthy(index: int, where: str, since: float) -> InstanceStatus:
    return InstanceStatus(
        job="web",
        index=index,
        node=where,
        state=InstanceState.RUNNING,
        spec_version=1,
        health=Health.HEALTHY,
        healthy_since=since,
    )


def test_the_replacement_starts_on_the_target_not_where_bin_packing_would_put_it() -> None:
    step = next_step(state())
    assert step is not None
    assert step.schedule.placements == {0: "a", 1: "a", 2: "b", 3: "c"}
    assert step.schedule.surge == {3: 1}
    assert step.allocation_delta == {"c": POD}
    assert step.deployment.status is DeploymentStatus.RUNNING
    assert step.deployment.description == "rebalancing: moving web-1 from a to c"


def test_the_old_instance_stays_until_the_new_one_was_healthy_for_min_healthy_time() -> None:
    moving = SCHEDULE.model_copy(
        update={"placements": {**SCHEDULE.placements, 3: "c"}, "surge": {3: 1}}
    )
    too_soon = state(moving, statuses=[healthy(3, "c", NOW - 5)], started=NOW - 6)
    waiting = next_step(too_soon)
    assert waiting is None or waiting.schedule == moving
    step = next_step(state(moving, statuses=[healthy(3, "c", NOW - 11)], started=NOW - 12))
    assert step is not None
    assert step.schedule.placements == {0: "a", 2: "b", 3: "c"}
    assert step.allocation_delta == {"a": Resources() - POD}
    assert step.deployment.status is DeploymentStatus.SUCCESSFUL
    assert step.deployment.retired == [1]


def test_other_instances_of_the_job_are_left_alone() -> None:
    step = next_step(state())
    assert step is not None
    assert step.deployment.placed == {3: NOW}
    assert 0 in step.schedule.placements and 2 in step.schedule.placements


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"target_used": Resources(memory=parse_size("256M"))}, "node c has no room"),
        ({"cordoned": ("c",)}, "node c is cordoned"),
        ({"nodes": (node("a"), node("b"))}, "node c is gone"),
        (
            {
                "record": job(nodeSelector={"zone": "x"}),
                "nodes": (node("a"), node("b"), node("c", {"zone": "y"})),
            },
            "node c does not pass the job's constraints",
        ),
    ],
)
def test_a_target_that_cannot_take_it_fails_the_move_and_the_old_instance_stays(
    kwargs: dict[str, object], reason: str
) -> None:
    step = next_step(state(**kwargs))  # type: ignore[arg-type]
    assert step is not None
    assert step.deployment.status is DeploymentStatus.FAILED
    assert step.deployment.description.startswith(f"cannot move web-1: {reason}")
    assert step.schedule.placements == SCHEDULE.placements
    assert step.allocation_delta == {}


def test_a_failed_replacement_is_dropped_and_the_old_instance_kept() -> None:
    moving = SCHEDULE.model_copy(
        update={"placements": {**SCHEDULE.placements, 3: "c"}, "surge": {3: 1}}
    )
    failed = healthy(3, "c", 0).model_copy(
        update={"state": InstanceState.FAILED, "health": Health.UNHEALTHY, "healthy_since": None}
    )
    step = next_step(state(moving, statuses=[failed], started=NOW - 1))
    assert step is not None
    assert step.deployment.status is DeploymentStatus.FAILED
    assert step.schedule.placements == SCHEDULE.placements
    assert step.allocation_delta == {"c": Resources() - POD}


def test_a_move_deployment_never_reverts_and_has_no_canaries() -> None:
    record = job(update={"canary": 2, "auto_revert": True, "max_parallel": 3})
    deployment = move_deployment(record, MOVE, NOW)
    assert (deployment.update.canary, deployment.update.max_parallel) == (0, 1)
    assert deployment.update.auto_revert is False
    assert deployment.moves == {1: "c"}


@pytest.mark.parametrize(("taken", "index"), [(set(), 0), ({0, 1}, 2), ({0, 2}, 1), ({1, 2, 3}, 0)])
def test_free_index_is_the_lowest_not_taken(taken: set[int], index: int) -> None:
    assert free_index(taken) == index


def test_a_move_leaves_instances_pinned_to_an_older_version_alone() -> None:
    pinned = SCHEDULE.model_copy(update={"versions": {0: 0, 2: 0}})
    record = job()
    record = record.model_copy(update={"version": 2, "older": {0: record.spec}})
    step = next_step(state(pinned, record=record))
    assert step is not None
    assert step.schedule.surge == {3: 1}
    assert step.deployment.placed == {3: NOW}
