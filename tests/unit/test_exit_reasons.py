"""Tests for the words an agent puts on a container's exit."""

import pytest

from ozymandias.agent.exit_reasons import exit_reason

M = 1024**2


@pytest.mark.parametrize(
    ("code", "oom_killed", "limit", "unhealthy", "reason"),
    [
        pytest.param(1, False, 8 * M, False, "container app exited with code 1", id="a failure"),
        pytest.param(
            137, False, 8 * M, False, "container app exited with code 137", id="kill -9, no guess"
        ),
        pytest.param(
            137,
            True,
            8 * M,
            False,
            "container app was killed: out of memory (limit 8M)",
            id="OOM kill",
        ),
        pytest.param(
            137, True, None, False, "container app was killed: out of memory", id="limit unknown"
        ),
        pytest.param(
            1,
            True,
            512 * M,
            False,
            "container app exited with code 1 after one of its processes was killed:"
            " out of memory (limit 512M)",
            id="a child OOM-killed, then its own exit",
        ),
        pytest.param(
            137,
            False,
            8 * M,
            True,
            "container app exited with code 137 (stopped: unhealthy)",
            id="stopped as unhealthy",
        ),
    ],
)
def test_exit_reason(
    code: int, oom_killed: bool, limit: int | None, unhealthy: bool, reason: str
) -> None:
    assert (
        exit_reason(
            "app", code, oom_killed=oom_killed, memory_limit=limit, stopped_as_unhealthy=unhealthy
        )
        == reason
    )
