"""The rollout's steps (deployments/rollout.py): surge, health gates, deadlines, canaries."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
)
from ozymandias.deployments.rollout import CANARY, RolloutState, next_step, wake_at
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.view import ClusterView
from ozymandias.spec.loader import job_from_data
from ozymandias.spec.sizes import parse_size

NOW = 1000.0
MB = parse_size("1M")


def spec(image: str, **extra: Any) -> Any:
    data = {
        "name": "web",
        "numInstances": 2,
        "containers": {"app": {"image": image, "memory": "64M"}},
    }
    return job_from_data({**data, **extra})


def record(**update: Any) -> JobRecord:
    old = spec("web:1")
    new = spec("web:2", update=update or {"min_healthy_time": "10s"})
    return JobRecord(spec=new, version=2, older={1: old}, stable_version=1)


def node(name: str, memory: str = "1G") -> Node:
    return Node(
        name=name,
        address="10.0.0.1",
        api_url="http://x",
        capacity=Resources(memory=parse_size(memory)),
        started_at=0,
    )


def healthy(index: int, since: float, version: int = 2, node_name: str = "n1") -> InstanceStatus:
    return InstanceStatus(
        job="web",
        index=index,
        node=node_name,
        state=InstanceState.RUNNING,
        spec_version=version,
        health=Health.HEALTHY,
        healthy_since=since,
    )


def state(
    schedule: Schedule,
    deployment: Deployment,
    statuses: list[InstanceStatus] = (),  # type: ignore[assignment]
    *,
    memory: str = "1G",
    job: JobRecord | None = None,
    now: float = NOW,
) -> RolloutState:
    job = job or record()
    used = Resources(memory=64 * MB * len(schedule.placements))
    return RolloutState(
        record=job,
        schedule=schedule,
        deployment=deployment,
        statuses={status.index: status for status in statuses},
        request=request_from_spec(job.spec),
        view=ClusterView.from_records([node("n1", memory)], {"n1": used}),
        live_nodes=frozenset({"n1"}),
        now=now,
    )


def deployment(**fields: Any) -> Deployment:
    job = record(**fields.pop("update", {}))
    values: dict[str, Any] = {
        "job": "web",
        "version": 2,
        "update": job.spec.update,
        "created_at": NOW - 5,
        "updated_at": NOW - 5,
        "last_progress_at": NOW - 5,
        "desired": 2,
        "description": "0 of 2 instances healthy at version 2",
    }
    return Deployment(**(values | fields))


OLD = Schedule(job="web", placements={0: "n1", 1: "n1"}, versions={0: 1, 1: 1})


def test_a_new_instance_starts_beside_the_old_one_where_there_is_room() -> None:
    step = next_step(state(OLD, deployment()))
    assert step is not None
    assert step.schedule.placements == {0: "n1", 1: "n1", 2: "n1"}
    assert step.schedule.surge == {2: 0}
    assert step.deployment.placed == {2: NOW}
    assert step.allocation_delta == {"n1": Resources(memory=64 * MB)}


def test_without_room_the_old_instance_is_replaced_in_place() -> None:
    step = next_step(state(OLD, deployment(), memory="128M"))
    assert step is not None
    assert step.schedule.placements == {0: "n1", 1: "n1"}
    assert step.schedule.versions == {1: 1}  # 0 now runs the new version, on its node
    assert step.deployment.placed == {0: NOW}
    assert step.allocation_delta == {}


def test_the_old_instance_goes_once_its_replacement_was_healthy_long_enough() -> None:
    surging = OLD.model_copy(update={"placements": {0: "n1", 1: "n1", 2: "n1"}, "surge": {2: 0}})
    rollout = deployment(placed={2: NOW - 20})
    not_yet = state(surging, rollout, [healthy(2, since=NOW - 3)])
    assert next_step(not_yet) is None
    assert wake_at(not_yet) == NOW + 7
    step = next_step(state(surging, rollout, [healthy(2, since=NOW - 11)]))
    assert step is not None
    assert 0 not in step.schedule.placements and step.deployment.healthy == [2]
    assert step.deployment.retired == [0]
    # The freed room goes to the next surge instance, which must not reuse the name shop-0.
    assert step.schedule.surge == {3: 1}
    assert step.allocation_delta == {}


def test_every_instance_new_and_healthy_is_a_success_and_a_stable_version() -> None:
    done = Schedule(job="web", placements={2: "n1", 3: "n1"})
    rollout = deployment(placed={2: NOW - 30, 3: NOW - 20}, healthy=[2])
    step = next_step(state(done, rollout, [healthy(2, NOW - 25), healthy(3, NOW - 15)]))
    assert step is not None and step.finished
    assert step.deployment.status is DeploymentStatus.SUCCESSFUL
    assert step.record.stable_version == 2
    assert step.record.older == {}  # no instance runs version 1 any more


@pytest.mark.parametrize(
    ("fields", "statuses", "reason"),
    [
        pytest.param(
            {"placed": {2: NOW - 301}}, [], "web-2 was not healthy within 300s", id="late"
        ),
        pytest.param({"fail_requested": "by an operator"}, [], "failed by an operator", id="asked"),
        pytest.param(
            {"placed": {2: NOW - 100}, "last_progress_at": NOW - 601},
            [],
            "no instance became healthy for 600s",
            id="stalled",
        ),
    ],
)
def test_a_failed_deployment_drops_its_surge_instances_and_keeps_the_old_ones(
    fields: dict[str, Any], statuses: list[InstanceStatus], reason: str
) -> None:
    surging = OLD.model_copy(update={"placements": {0: "n1", 1: "n1", 2: "n1"}, "surge": {2: 0}})
    step = next_step(state(surging, deployment(**fields), statuses))
    assert step is not None and step.deployment.status is DeploymentStatus.FAILED
    assert reason in step.deployment.description
    assert step.schedule.placements == {0: "n1", 1: "n1"} and step.schedule.surge == {}
    assert step.allocation_delta == {"n1": Resources(memory=-64 * MB)}


def test_canaries_start_beside_the_old_instances_and_wait_for_promotion() -> None:
    rollout = deployment(update={"canary": 1, "min_healthy_time": "1s"})
    job = record(canary=1, min_healthy_time="1s")
    step = next_step(state(OLD, rollout, job=job))
    assert step is not None and step.schedule.surge == {2: CANARY}
    canary = step.schedule
    waiting = next_step(state(canary, step.deployment, [healthy(2, NOW - 5)], job=job))
    assert waiting is not None and waiting.deployment.status is DeploymentStatus.PAUSED
    assert "ozy promote web" in waiting.deployment.description
    assert next_step(state(canary, waiting.deployment, [healthy(2, NOW - 5)], job=job)) is None
    promoted = waiting.deployment.model_copy(update={"promoted": True})
    step = next_step(state(canary, promoted, [healthy(2, NOW - 5)], job=job))
    assert step is not None and step.deployment.status is DeploymentStatus.RUNNING
    assert 0 not in step.schedule.placements  # the canary took its place
    assert step.schedule.surge == {3: 1}  # and the rollout goes on


def test_a_revert_keeps_the_instances_that_already_run_the_stable_spec() -> None:
    rollout = deployment(revert_of=2, satisfied_by=[1], version=3)
    job = record().model_copy(update={"version": 3})
    step = next_step(state(OLD, rollout, job=job))
    assert step is not None and step.deployment.status is DeploymentStatus.SUCCESSFUL
    assert step.schedule == OLD


def test_a_new_instance_that_cannot_run_fails_the_deployment_at_once() -> None:
    surging = OLD.model_copy(update={"placements": {0: "n1", 1: "n1", 2: "n1"}, "surge": {2: 0}})
    cannot_run = InstanceStatus(
        job="web",
        index=2,
        node="n1",
        state=InstanceState.FAILED,
        spec_version=2,
        health=Health.UNHEALTHY,
        reason="image web:2 not found",
    )
    step = next_step(state(surging, deployment(placed={2: NOW - 1}), [cannot_run]))
    assert step is not None and step.deployment.status is DeploymentStatus.FAILED
    assert step.deployment.description == "web-2 failed (failed, unhealthy: image web:2 not found)"
    assert step.schedule.placements == {0: "n1", 1: "n1"}


def test_no_more_canaries_than_instances_and_none_left_over_after_promotion() -> None:
    job = record(canary=5, min_healthy_time="1s")
    rollout = deployment(update={"canary": 5, "min_healthy_time": "1s"})
    step = next_step(state(OLD, rollout, job=job))
    assert step is not None and step.schedule.surge == {2: CANARY, 3: CANARY}  # 2 instances
    # Scaled down to one instance meanwhile: the second canary has nothing to replace.
    one_old = step.schedule.model_copy(
        update={"placements": {0: "n1", 2: "n1", 3: "n1"}, "versions": {0: 1}}
    )
    promoted = step.deployment.model_copy(update={"promoted": True})
    healthy_canaries = [healthy(2, NOW - 5), healthy(3, NOW - 5)]
    after = next_step(state(one_old, promoted, healthy_canaries, job=job))
    assert after is not None
    assert after.schedule.placements == {2: "n1"} and after.schedule.surge == {}
