"""What a pod reports from its containers' states (agent/tracks.py): a table."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from ozymandias.agent.local_plan import LocalPod
from ozymandias.agent.tracks import ContainerTrack, PodTrack
from ozymandias.cluster.records import Health, InstanceState, InstanceStatus

PENDING_RESTART = cast("asyncio.Task[None]", object())


def container(kind: str) -> ContainerTrack:
    """running | done (exited 0, not restarted) | crashed (exited 1) | restarting."""
    track = ContainerTrack(name=kind, container_id=kind)
    if kind != "running":
        track.running = False
        track.exit_code = 1 if kind in ("crashed", "restarting") else 0
    if kind == "restarting":
        track.restart_timer = PENDING_RESTART
    return track


@pytest.mark.parametrize(
    ("kinds", "state", "health"),
    [
        pytest.param(["running"], InstanceState.RUNNING, Health.HEALTHY, id="running"),
        pytest.param(["done"], InstanceState.COMPLETED, Health.HEALTHY, id="a one-shot done"),
        pytest.param(
            ["running", "done"], InstanceState.RUNNING, Health.HEALTHY, id="app and a done init"
        ),
        pytest.param(["crashed"], InstanceState.FAILED, Health.UNHEALTHY, id="crashed"),
        pytest.param(
            ["running", "crashed"], InstanceState.FAILED, Health.UNHEALTHY, id="one of two crashed"
        ),
        pytest.param(
            ["done", "restarting"], InstanceState.STARTING, Health.STARTING, id="restarting"
        ),
    ],
)
def test_a_pod_is_judged_by_its_containers(
    kinds: list[str], state: InstanceState, health: Health
) -> None:
    pod = PodTrack(
        pod=LocalPod("p", "job", 0, 1),
        ip="10.0.0.2",
        containers={f"{kind}{i}": container(kind) for i, kind in enumerate(kinds)},
    )
    assert (pod.state(), pod.health()) == (state, health)


def test_a_completed_one_shot_is_settled_and_a_crashed_one_is_not() -> None:
    def status(**fields: Any) -> InstanceStatus:
        return InstanceStatus(job="j", index=0, node="n", **fields)

    assert status(state=InstanceState.COMPLETED, health=Health.HEALTHY).settled
    assert status(state=InstanceState.RUNNING, health=Health.HEALTHY).settled
    assert not status(state=InstanceState.RUNNING, health=Health.STARTING).settled
    assert not status(state=InstanceState.FAILED, health=Health.UNHEALTHY).settled
