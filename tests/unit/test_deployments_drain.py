"""Draining a node (deployments/drain.py, and rollout.py's draining nodes)."""

from __future__ import annotations

from ozymandias.cluster.records import Drain, Resources, Schedule
from ozymandias.deployments.drain import drain_deployment, on_nodes, stop_drained
from ozymandias.deployments.rollout import RolloutState, Step, next_step
from ozymandias.scheduling.request import request_from_spec
from ozymandias.scheduling.view import ClusterView
from tests.unit.test_deployments_rollout import MB, NOW, node, record

POD = Resources(memory=64 * MB)


def test_instances_on_a_draining_node_move_surge_first_and_never_in_place() -> None:
    job = record().model_copy(update={"older": {}})
    schedule = Schedule(job="web", placements={0: "n1", 1: "n2"})
    deployment = drain_deployment(job, ["n1"], NOW)
    assert deployment.update.canary == 0 and "off n1" in deployment.description

    def step_with(n2_memory: str) -> Step | None:
        view = ClusterView.from_records(
            [node("n1"), node("n2", n2_memory)],
            {"n1": POD, "n2": POD},
            cordoned=["n1"],
        )
        state = RolloutState(
            record=job,
            schedule=schedule,
            deployment=deployment,
            statuses={},
            request=request_from_spec(job.spec),
            view=view,
            live_nodes=frozenset({"n1", "n2"}),
            now=NOW,
            draining=frozenset({"n1"}),
        )
        return next_step(state)

    moved = step_with("1G")
    assert moved is not None
    assert moved.schedule.surge == {2: 0} and moved.schedule.placements[2] == "n2"
    stuck = step_with("100M")  # n2 has no room: the instance waits on n1, not replaced there
    assert stuck is not None
    assert stuck.schedule == schedule
    assert "no room elsewhere for web-0" in stuck.deployment.description


def test_what_is_left_at_the_deadline_is_stopped_and_placed_again() -> None:
    schedule = Schedule(
        job="web",
        placements={0: "n1", 1: "n2", 2: "n1", 3: "n2", 4: "n1"},
        surge={2: 1, 3: 0},
    )
    drains = {"n1": Drain(node="n1", started_at=NOW - 10, deadline=NOW + 50)}
    assert on_nodes(schedule, ["n1"]) == [0, 2, 4]
    assert stop_drained(schedule, drains, POD, NOW) is None  # before its deadline
    stopped = stop_drained(schedule, drains, POD, NOW + 60)
    assert stopped is not None
    updated, delta, indices = stopped
    assert indices == [0, 2, 4]
    assert updated.placements == {1: "n2", 3: "n2"}
    # 4 is placed again; 2 was a surge instance and 0 has its replacement (3): both just go.
    assert updated.pending == {4: "stopped by the drain of node n1"}
    assert updated.surge == {}
    assert delta == {"n1": Resources(memory=-3 * 64 * MB)}
    forced = {"n1": Drain(node="n1", started_at=NOW, deadline=NOW + 300, force=True)}
    assert stop_drained(schedule, forced, POD, NOW) is not None
