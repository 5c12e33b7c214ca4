"""`ozy apply`'s verdict on a new version, from sequences of polls of its instances (a table)."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cli.apply_verdict import Memory, Verdict, judge

VERSION = 2


def inst(
    state: str = "running",
    health: str = "healthy",
    *,
    restarts: int = 0,
    version: int = VERSION,
    streak: int = 0,
    reason: str = "",
    index: int = 0,
) -> dict[str, Any]:
    return {
        "name": f"web-{index}",
        "state": state,
        "health": health,
        "restarts": restarts,
        "specVersion": version,
        "reason": reason,
        "containers": [{"name": "app", "crashStreak": streak}],
    }


def last_verdict(polls: list[tuple[float, list[dict[str, Any]]]]) -> Verdict:
    """The verdict after the polls (time, instances), stopping at the first decision."""
    memory = Memory()
    verdict = Verdict("")
    for now, instances in polls:
        memory, verdict = judge(memory, "web", instances, VERSION, now, settle=3)
        if verdict.succeeded or verdict.failure:
            break
    return verdict


@pytest.mark.parametrize(
    ("polls", "succeeded", "failure"),
    [
        pytest.param(
            [(0, [inst()]), (1, [inst()]), (3.1, [inst()])],
            True,
            None,
            id="healthy for the settle time",
        ),
        pytest.param(
            [(0, [inst()]), (2, [inst()])], False, None, id="healthy, but not for long enough yet"
        ),
        pytest.param(
            [
                (0, [inst("starting", "starting")]),
                (5, [inst(health="starting")]),
                (9, [inst()]),
                (12.5, [inst()]),
            ],
            True,
            None,
            id="a slow starter that becomes healthy",
        ),
        pytest.param(
            [
                (0, [inst()]),
                (1, [inst("starting", "starting", restarts=1, streak=1)]),
                (2, [inst(restarts=1)]),
                (4, [inst(restarts=1)]),
            ],
            False,
            None,
            id="a restart starts the settle time again",
        ),
        pytest.param(
            [
                (0, [inst()]),
                (1, [inst("starting", "starting", restarts=1, streak=1)]),
                (3, [inst("starting", "starting", restarts=2, streak=2, reason="exit code 1")]),
            ],
            False,
            "web-0 is crash-looping: restarted 2 times: exit code 1",
            id="a crash loop",
        ),
        pytest.param(
            [(0, [inst("starting", "starting", restarts=7, streak=2, reason="killed: OOM")])],
            False,
            "web-0 is crash-looping: restarted 2 times: killed: OOM",
            id="an OOM loop already under way",
        ),
        pytest.param(
            [(0, [inst(health="starting")]), (2, [inst(health="unhealthy", reason="HTTP 404")])],
            False,
            "web-0 is unhealthy: HTTP 404",
            id="a failing check",
        ),
        pytest.param(
            [(0, [inst("failed", "unhealthy", reason="image x is not present")])],
            False,
            "web-0 failed: image x is not present",
            id="cannot start",
        ),
        pytest.param(
            [(0, [inst("completed", "healthy")]), (3, [inst("completed", "healthy")])],
            True,
            None,
            id="a one-shot that completed",
        ),
        pytest.param(
            [(0, [inst(version=1), inst(index=1)]), (5, [inst(version=1), inst(index=1)])],
            False,
            None,
            id="an old version still to update is waited for",
        ),
        pytest.param(
            [(0, [inst("failed", "unhealthy", version=1, reason="old"), inst(index=1)])],
            False,
            None,
            id="an old version's failure is not this apply's",
        ),
        pytest.param(
            [(0, [inst("pending", "", version=0)]), (5, [inst("pending", "", version=0)])],
            False,
            None,
            id="not yet reported",
        ),
        pytest.param([(0, [])], True, None, id="no instances"),
    ],
)
def test_the_verdict(
    polls: list[tuple[float, list[dict[str, Any]]]], succeeded: bool, failure: str | None
) -> None:
    verdict = last_verdict(polls)
    assert (verdict.succeeded, verdict.failure) == (succeeded, failure)


def test_the_progress_line_says_what_is_running_healthy_completed_and_still_old() -> None:
    instances = [
        inst(index=0),
        inst(health="starting", index=1),
        inst("completed", index=2),
        inst(version=1, index=3),
    ]
    _, verdict = judge(Memory(), "web", instances, VERSION, 0)
    assert verdict.line == (
        "web: 3/4 running (2 healthy), 1 completed (1 still to update to version 2)"
    )
    _, done = judge(Memory(), "web", [inst()], VERSION, 0, settle=0)
    assert done.succeeded and done.line == "web: 1/1 running"
