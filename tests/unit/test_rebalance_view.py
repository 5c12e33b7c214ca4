"""What `ozy rebalance` shows of a rebalance and how it exits (cli/rebalance_view.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cli.rebalance_view import move_lines, summary, verdict


def move(instance: str, state: str, reason: str = "") -> dict[str, Any]:
    return {"instance": instance, "from": "a", "to": "c", "state": state, "reason": reason}


def rebalance(status: str, *moves: dict[str, Any]) -> dict[str, Any]:
    counts = dict.fromkeys(("pending", "moving", "done", "failed", "skipped"), 0)
    for item in moves:
        counts[item["state"]] += 1
    return {"status": status, "moves": list(moves), "counts": counts}


@pytest.mark.parametrize(
    ("view", "done", "code", "message"),
    [
        (
            rebalance("running", move("web-1", "done"), move("api-1", "moving")),
            False,
            0,
            "1 of 2 moves done, 1 moving",
        ),
        (rebalance("succeeded"), True, 0, "balanced: no move brings a node closer to the mean"),
        (
            rebalance("succeeded", move("web-1", "done"), move("api-1", "skipped", "gone")),
            True,
            0,
            "rebalance succeeded: 1 of 2 moves done, 1 skipped",
        ),
        (
            rebalance("failed", move("web-1", "done"), move("api-1", "failed", "no room")),
            True,
            1,
            "rebalance failed: 1 of 2 moves done, 1 failed (api-1: no room); "
            "the failed moves' instances still run where they were",
        ),
    ],
)
def test_verdict(view: dict[str, Any], done: bool, code: int, message: str) -> None:
    outcome = verdict(view)
    assert (outcome.done, outcome.exit_code, outcome.message) == (done, code, message)


def test_one_line_per_move_with_its_reason() -> None:
    lines = move_lines(rebalance("running", move("web-1", "moving"), move("api-1", "skipped", "x")))
    assert lines == {"web-1": "web-1: a -> c moving", "api-1": "api-1: a -> c skipped (x)"}


def test_summary_of_one_move_is_singular() -> None:
    assert summary(rebalance("running", move("web-1", "pending"))) == "0 of 1 move done, 1 pending"
