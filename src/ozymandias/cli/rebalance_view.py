"""What `ozy rebalance` shows of a running rebalance, and how it ends (pure).

The API's view of a rebalance (GET /v1/rebalance/current) goes in; lines,
a table and a verdict come out, so they are table-tested without a node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from ozymandias.cli.tables import new_table


@dataclass(frozen=True)
class RebalanceOutcome:
    done: bool
    exit_code: int
    message: str


def move_lines(rebalance: Mapping[str, Any]) -> dict[str, str]:
    """One line per move, by its instance: what a log shows as each move changes."""
    return {move["instance"]: _line(move) for move in rebalance["moves"]}


def _line(move: Mapping[str, Any]) -> str:
    text = f"{move['instance']}: {move['from']} -> {move['to']} {move['state']}"
    return f"{text} ({move['reason']})" if move["reason"] else text


def summary(rebalance: Mapping[str, Any]) -> str:
    """`2 of 3 moves done, 1 moving` (states with no move left out)."""
    counts = rebalance["counts"]
    total = len(rebalance["moves"])
    text = f"{counts['done']} of {total} move{'s' if total != 1 else ''} done"
    others = [
        f"{counts[state]} {state}"
        for state in ("moving", "pending", "failed", "skipped")
        if counts[state]
    ]
    return ", ".join([text, *others])


def moves_table(rebalance: Mapping[str, Any]) -> Table:
    table = new_table("INSTANCE", "FROM", "TO", "STATE", "REASON")
    for move in rebalance["moves"]:
        table.add_row(move["instance"], move["from"], move["to"], move["state"], move["reason"])
    return table


def verdict(rebalance: Mapping[str, Any]) -> RebalanceOutcome:
    """Whether the rebalance is over, and how `ozy rebalance` exits: 1 if a move failed."""
    status = rebalance["status"]
    if status == "running":
        return RebalanceOutcome(False, 0, summary(rebalance))
    if not rebalance["moves"]:
        return RebalanceOutcome(True, 0, "balanced: no move brings a node closer to the mean")
    if status == "failed":
        failed = [m for m in rebalance["moves"] if m["state"] == "failed"]
        reasons = "; ".join(f"{m['instance']}: {m['reason']}" for m in failed)
        return RebalanceOutcome(
            True,
            1,
            f"rebalance failed: {summary(rebalance)} ({reasons}); "
            "the failed moves' instances still run where they were",
        )
    return RebalanceOutcome(True, 0, f"rebalance succeeded: {summary(rebalance)}")
