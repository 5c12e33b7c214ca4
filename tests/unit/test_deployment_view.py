"""What `ozy apply` and `ozy deployment status` make of a deployment (cli/deployment_view.py):
its verdict and exit code, its summary, and its instances' lines, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cli.deployment_view import (
    SUMMARY,
    changed_lines,
    elapsed_text,
    failure_in_events,
    instance_row,
    lines_by_key,
    missed_failure,
    summary_line,
    troubles,
    verdict,
    versions_text,
)


def deployment(version: int = 2, status: str = "running", **fields: Any) -> dict[str, Any]:
    """A deployment as GET /v1/jobs/web/deployment answers it."""
    return {
        "job": "web",
        "version": version,
        "status": status,
        "description": "",
        "desired": 3,
        "placed": 1,
        "healthy": 1,
        "unhealthy": 0,
        "canary": 0,
        "promoted": False,
        "failRequested": "",
        "revertOf": 0,
        "failedInstance": "",
        "instances": [],
        **fields,
    }


def instance(
    index: int = 0, version: int = 2, running: int | None = 2, **fields: Any
) -> dict[str, Any]:
    return {
        "name": f"web-{index}",
        "index": index,
        "node": "n1",
        "version": version,
        "runningVersion": running,
        "state": "running",
        "health": "healthy",
        "reason": "",
        "restarts": 0,
        "canary": False,
        "replaces": None,
        **fields,
    }


@pytest.mark.parametrize(
    ("current", "last_own", "done", "code", "says"),
    [
        pytest.param(None, None, False, 0, "", id="none yet"),
        pytest.param(deployment(version=1, status="successful"), None, False, 0, "", id="older"),
        pytest.param(deployment(), None, False, 0, "", id="running"),
        pytest.param(
            deployment(status="successful", healthy=3), None, True, 0, "3/3 healthy", id="success"
        ),
        pytest.param(
            deployment(status="paused", canary=1),
            None,
            True,
            0,
            "run `ozy promote web`",
            id="paused for promotion",
        ),
        pytest.param(
            deployment(
                status="failed",
                description="web-4 not healthy within 5m",
                failedInstance="web-4: check http failed: 500",
            ),
            None,
            True,
            1,
            "failed: web-4 not healthy within 5m; web-4: check http failed: 500",
            id="failed",
        ),
        pytest.param(
            deployment(status="reverted", description="progress deadline passed"),
            None,
            True,
            1,
            "failed: progress deadline passed; reverted to the last stable version",
            id="reverted",
        ),
        pytest.param(
            deployment(status="failed", failRequested="by token ci"),
            None,
            True,
            1,
            "failed: failed by token ci",
            id="failed by an operator",
        ),
        pytest.param(
            deployment(
                status="failed",
                description="failed by token ci",
                failRequested="by token ci",
            ),
            None,
            True,
            1,
            "version 2 of web failed: failed by token ci",
            id="failed by an operator, said once",
        ),
        pytest.param(
            deployment(
                status="failed",
                description="web-1 was not healthy within 20s (running, unhealthy)",
                failedInstance="web-1 was not healthy within 20s (running, unhealthy)",
            ),
            None,
            True,
            1,
            "failed: web-1 was not healthy within 20s (running, unhealthy)",
            id="the failed instance, said once",
        ),
        pytest.param(
            deployment(version=3, revertOf=2),
            deployment(status="failed", failedInstance="web-1: unhealthy"),
            True,
            1,
            "failed: web-1: unhealthy; reverted: version 3 is rolling out",
            id="replaced by its revert",
        ),
        pytest.param(
            deployment(version=3, revertOf=2, description="3 instances healthy at version 3"),
            deployment(),
            True,
            1,
            "version 2 of web failed; reverted: version 3",
            id="its revert, its failure never seen",
        ),
        pytest.param(
            deployment(version=3),
            None,
            True,
            1,
            "cancelled: version 3 replaced it",
            id="replaced by a newer version",
        ),
    ],
)
def test_the_verdict_on_a_followed_version(
    current: dict[str, Any] | None,
    last_own: dict[str, Any] | None,
    done: bool,
    code: int,
    says: str,
) -> None:
    outcome = verdict(2, current, last_own)
    assert (outcome.done, outcome.exit_code) == (done, code)
    assert outcome.message.count(says) == (1 if says else len(outcome.message) + 1)


def test_a_failure_missed_between_two_polls_is_told_from_the_events() -> None:
    revert = deployment(version=3, revertOf=2, status="successful")
    assert missed_failure(2, revert, deployment())
    assert not missed_failure(2, revert, deployment(status="failed"))  # seen: it has the reasons
    assert not missed_failure(2, deployment(version=3), deployment())  # a newer version, no revert
    assert not missed_failure(2, deployment(), None)
    events = [
        {"message": "deployment of version 1 failed: web-0 was not healthy within 20s"},
        {"message": "deployment of version 2 failed: web-1 was not healthy within 20s (x)"},
        {"message": "reverting to version 1, the last stable one"},
    ]
    why = failure_in_events(2, events)
    assert why == "web-1 was not healthy within 20s (x)"
    assert failure_in_events(4, events) == ""
    outcome = verdict(2, revert, deployment(), why)
    assert outcome.exit_code == 1
    assert outcome.message.startswith("version 2 of web failed: web-1 was not healthy within 20s")


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        pytest.param({}, "web version 2 running: 1/3 healthy, 1 placed", id="plain"),
        pytest.param(
            {"unhealthy": 1, "description": "waiting for web-1 to be healthy for 10s"},
            "web version 2 running: 1/3 healthy, 1 placed, 1 unhealthy"
            " — waiting for web-1 to be healthy for 10s",
            id="unhealthy, and what it waits for",
        ),
        pytest.param(
            {"status": "paused", "canary": 1},
            "web version 2 paused: 1/3 healthy, 1 placed, 1 canary(ies) not promoted",
            id="canary",
        ),
        pytest.param(
            {"revertOf": 1, "version": 3},
            "web version 3 running: 1/3 healthy, 1 placed (reverting version 1)",
            id="a revert",
        ),
    ],
)
def test_the_summary_line(fields: dict[str, Any], line: str) -> None:
    assert summary_line(deployment(**fields)) == line


@pytest.mark.parametrize(
    ("version", "running", "text"),
    [(2, 2, "v2"), (2, 1, "v1 → v2"), (2, None, "- → v2"), (1, 1, "v1")],
)
def test_an_instance_shows_the_version_it_runs_and_the_one_it_should(
    version: int, running: int | None, text: str
) -> None:
    assert versions_text(instance(version=version, running=running)) == text


@pytest.mark.parametrize(
    ("fields", "row"),
    [
        pytest.param({}, ("web-0", "v2", "running", "healthy", "n1", ""), id="settled"),
        pytest.param(
            {"canary": True, "health": "starting", "running": None},
            ("web-0", "- → v2", "running", "starting", "n1", "canary"),
            id="canary",
        ),
        pytest.param(
            {"replaces": 1, "reason": "pulling", "state": "starting", "health": ""},
            ("web-0", "v2", "starting", "-", "n1", "replaces #1; pulling"),
            id="surge",
        ),
        pytest.param(
            {"restarts": 3, "reason": "exited 1"},
            ("web-0", "v2", "running", "healthy", "n1", "3 restart(s); exited 1"),
            id="restarted",
        ),
        pytest.param(
            {"node": "", "state": "pending", "health": "", "running": None, "reason": "no room"},
            ("web-0", "- → v2", "pending", "-", "-", "no room"),
            id="pending",
        ),
    ],
)
def test_an_instance_row(fields: dict[str, Any], row: tuple[str, ...]) -> None:
    running = fields.pop("running", 2)
    assert instance_row(instance(running=running, **fields)) == row


def test_plain_output_prints_only_what_changed() -> None:
    first = lines_by_key(deployment(instances=[instance(0), instance(1, running=1)]))
    assert changed_lines({}, first) == list(first.values())
    assert changed_lines(first, first) == []
    second = lines_by_key(deployment(healthy=2, instances=[instance(0), instance(1, running=2)]))
    assert changed_lines(first, second) == [second[SUMMARY], second["web-1"]]
    assert "v1 → v2" in first["web-1"] and "v1" not in second["web-1"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42.9, "42s"), (60, "1m00s"), (185, "3m05s")]
)
def test_elapsed_time(seconds: float, text: str) -> None:
    assert elapsed_text(seconds) == text


def test_a_follow_out_of_time_names_the_new_instances_in_trouble() -> None:
    instances = [
        instance(0, state="failed", health="", reason="image not found"),
        instance(1, health="unhealthy", reason="check http: 500"),
        instance(2, restarts=2),
        instance(3),  # fine
        instance(4, version=1, running=1, state="failed"),  # the old version's: not this one's
    ]
    assert troubles(deployment(instances=instances)) == [
        "web-0 failed: image not found",
        "web-1 is unhealthy: check http: 500",
        "web-2 restarted 2 time(s)",
    ]
