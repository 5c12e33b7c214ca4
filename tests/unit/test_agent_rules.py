"""The agent's pure rules: which pods to change locally, and when to restart containers."""

from __future__ import annotations

import pytest

from ozymandias.agent.local_plan import (
    DesiredInstance,
    LocalPod,
    StartBackOff,
    desired_on_node,
    out_of_step,
    plan_local_changes,
    waiting_out_back_off,
)
from ozymandias.agent.restart_policy import (
    RestartPolicy,
    next_crash_streak,
    restart_delay,
    should_restart,
)
from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.spec.loader import job_from_data


def job(name: str, version: int = 1) -> JobRecord:
    spec = job_from_data({"name": name, "containers": {"app": {"image": "img"}}})
    return JobRecord(spec=spec, version=version)


def desired(name: str, index: int, version: int = 1) -> DesiredInstance:
    return DesiredInstance(name, index, version, job(name, version).spec)


def pod(name: str, index: int, version: int = 1) -> LocalPod:
    return LocalPod(f"ozy-n1-{name}-{index}", name, index, version)


def test_desired_on_node_takes_only_this_nodes_placements_of_existing_jobs() -> None:
    schedules = [
        Schedule(job="web", placements={0: "n1", 1: "n2", 2: "n1"}),
        Schedule(job="gone", placements={0: "n1"}),  # its job record is not there
    ]
    result = desired_on_node("n1", [job("web", version=3)], schedules)
    assert sorted(result) == [("web", 0), ("web", 2)]
    assert all(item.version == 3 for item in result.values())


@pytest.mark.parametrize(
    ("wanted", "running", "busy", "start", "stop", "replace"),
    [
        pytest.param([], [], set(), [], [], [], id="nothing"),
        pytest.param([("a", 0)], [], set(), [("a", 0)], [], [], id="start a missing pod"),
        pytest.param([], [("a", 0)], set(), [], [("a", 0)], [], id="stop a pod placed elsewhere"),
        pytest.param([("a", 0)], [("a", 0)], set(), [], [], [], id="keep a matching pod"),
        pytest.param([("a", 0)], [], {("a", 0)}, [], [], [], id="leave a busy instance alone"),
        pytest.param([], [("a", 0)], {("a", 0)}, [], [], [], id="do not stop a busy pod"),
    ],
)
def test_plan_local_changes(
    wanted: list[tuple[str, int]],
    running: list[tuple[str, int]],
    busy: set[tuple[str, int]],
    start: list[tuple[str, int]],
    stop: list[tuple[str, int]],
    replace: list[tuple[str, int]],
) -> None:
    changes = plan_local_changes(
        {key: desired(*key) for key in wanted}, [pod(*key) for key in running], busy
    )
    assert [item.key for item in changes.start] == start
    assert [item.key for item in changes.stop] == stop
    assert [old.key for old, _ in changes.replace] == replace


def test_a_pod_of_an_older_spec_version_is_replaced() -> None:
    changes = plan_local_changes({("a", 0): desired("a", 0, version=2)}, [pod("a", 0, 1)], set())
    assert [(old.version, new.version) for old, new in changes.replace] == [(1, 2)]
    assert not changes.start and not changes.stop


def test_a_duplicate_pod_of_one_instance_is_stopped() -> None:
    duplicate = LocalPod("ozy-n1-a-0-copy", "a", 0, 1)
    changes = plan_local_changes({("a", 0): desired("a", 0)}, [pod("a", 0), duplicate], set())
    assert [p.pod_name for p in changes.stop] == ["ozy-n1-a-0-copy"]


def test_a_pod_of_another_version_is_replaced_at_once() -> None:
    # When its turn comes is the deployment's decision, made by pinning versions.
    changes = plan_local_changes(
        {("a", 0): desired("a", 0, version=2), ("a", 1): desired("a", 1, version=1)},
        [pod("a", 0, 1), pod("a", 1, 1)],
        set(),
    )
    assert [old.key for old, _ in changes.replace] == [("a", 0)]
    assert not changes.start and not changes.stop


def test_an_instance_pinned_to_an_older_version_runs_that_version() -> None:
    old_spec = job("a").spec
    new_spec = job_from_data({"name": "a", "containers": {"app": {"image": "img:2"}}})
    record = JobRecord(spec=new_spec, version=2, older={1: old_spec})
    schedule = Schedule(job="a", placements={0: "n1", 1: "n1"}, versions={0: 1})
    wanted = desired_on_node("n1", [record], [schedule])
    assert (wanted[("a", 0)].version, wanted[("a", 0)].spec) == (1, old_spec)
    assert (wanted[("a", 1)].version, wanted[("a", 1)].spec) == (2, new_spec)


@pytest.mark.parametrize(
    ("wanted_version", "now", "waits"),
    [
        (1, 5.0, True),  # the version that failed, before its retry is due
        (1, 10.0, False),  # its retry is due
        (2, 5.0, False),  # a new version (the fix) does not wait out the old back-off
    ],
)
def test_waiting_out_back_off(wanted_version: int, now: float, waits: bool) -> None:
    back_offs = {("web", 0): StartBackOff(version=1, streak=3, retry_at=10.0)}
    wanted = {("web", 0): desired("web", 0, wanted_version)}
    assert waiting_out_back_off(wanted, back_offs, now) == ({("web", 0)} if waits else set())


def test_a_back_off_of_an_instance_no_longer_wanted_holds_nothing() -> None:
    back_offs = {("gone", 0): StartBackOff(version=1, streak=1, retry_at=10.0)}
    assert waiting_out_back_off({}, back_offs, 5.0) == set()


@pytest.mark.parametrize(
    ("policy", "exit_code", "restart"),
    [
        ("always", 0, True),
        ("always", 1, True),
        ("unless-stopped", 0, True),
        ("on-failure", 0, False),
        ("on-failure", 1, True),
        ("on-failure", 137, True),
        ("never", 0, False),
        ("never", 1, False),
    ],
)
def test_should_restart(policy: RestartPolicy, exit_code: int, restart: bool) -> None:
    assert should_restart(policy, exit_code) is restart


def test_restart_delay_doubles_up_to_a_minute() -> None:
    assert [restart_delay(n) for n in range(0, 9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.parametrize(
    ("streak", "ran_for", "expected"),
    [(0, 0.5, 1), (3, 2.0, 4), (6, 59.9, 7), (6, 60.0, 1), (2, 3600, 1)],
)
def test_a_long_run_resets_the_crash_streak(streak: int, ran_for: float, expected: int) -> None:
    assert next_crash_streak(streak, ran_for) == expected


def test_a_job_whose_record_and_schedule_come_from_different_commits_waits() -> None:
    new = job("a", version=2)
    pinned = Schedule(job="a", placements={0: "n1"}, versions={0: 1}, job_version=2)
    stale = Schedule(job="a", placements={0: "n1"}, job_version=1)
    assert out_of_step([new], [pinned]) == []
    assert out_of_step([new], [stale]) == ["a"]
    assert out_of_step([job("a", version=1)], [pinned]) == ["a"]
