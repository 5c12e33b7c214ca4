"""`ozy rebalance`: move instances so allocation evens out across nodes (`--plan`: only show)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    for_machines,
    out,
    print_data,
)
from ozymandias.cli.rebalance_follow import follow_rebalance
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import new_table
from ozymandias.spec.sizes import format_size


def rebalance(
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Only print the moves and each node's allocation."),
    ] = False,
    threshold: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="Leave nodes within this fraction of the cluster's mean alone "
            "(0.2: 20 percentage points).",
        ),
    ] = 0.0,
    max_moves: Annotated[
        int,
        typer.Option("--max-moves", min=1, max=100, help="Moves in flight at once."),
    ] = 2,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start the moves and return at once.")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Follow the running (or last) rebalance; start none."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="Stop following after this many seconds (the moves go on)."),
    ] = None,
    output: OutputOption = "table",
    api: ApiOption = DEFAULT_API,
) -> None:
    """Move instances so allocated memory (and CPU) evens out across nodes.

    Each move takes an instance from the most-allocated node to the least-allocated
    one that may hold it (its job's constraints pass there and it has room), largest
    first, and a node takes instances only up to the cluster's mean. Never moved:
    jobs in a deployment, canaries, jobs with local volumes, pending instances.
    Each move is a deployment of its job's current version: the new instance is
    healthy on its target before the old one stops, at most --max-moves at once,
    never two of one job. Exits 1 if a move failed (its old instance still runs).
    With --plan nothing is written.

    Example: ozy rebalance --plan && ozy rebalance --max-moves 3
    """
    check_output(output)
    if plan:
        return _show_plan(api, threshold, output)
    if not follow:
        started = call(
            api, "POST", "/v1/rebalance", json={"maxMoves": max_moves, "threshold": threshold}
        )
        if detach:
            if for_machines(output):
                return print_data(output, started)
            count = len(started["moves"])
            if not count:
                out.print("balanced: no move brings a node closer to the mean")
                return
            out.print(
                f"started a rebalance of {count} move(s); follow it with `ozy rebalance --follow`"
            )
            return
    follow_rebalance(api, output, timeout)


def _show_plan(api: str, threshold: float, output: str) -> None:
    result = call(api, "GET", "/v1/rebalance", params={"threshold": str(threshold)})
    if for_machines(output):
        return print_data(output, result)
    if not result["moves"]:
        out.print(f"balanced: no move brings a node closer to the mean ({_percent(result)})")
        return
    moves = new_table("JOB", "INSTANCE", "FROM", "TO")
    for move in result["moves"]:
        moves.add_row(move["job"], move["instance"], move["from"], move["to"])
    print_table(out, moves)
    out.print(
        f"\n{len(result['moves'])} move(s); at least {result['lowerBound']} needed "
        f"({_percent(result)})\n"
    )
    print_table(out, _nodes_table(result["nodes"]))


def _percent(result: dict[str, Any]) -> str:
    return f"cluster mean {result['meanShare'] * 100:.0f}% allocated"


def _nodes_table(nodes: list[dict[str, Any]]) -> Table:
    table = new_table("NODE", "MEMORY BEFORE", "MEMORY AFTER", "CPU BEFORE", "CPU AFTER")
    for node in nodes:
        capacity = node["capacity"]
        table.add_row(
            node["name"],
            _share(node["before"]["memory"], capacity["memory"], format_size),
            _share(node["after"]["memory"], capacity["memory"], format_size),
            _share(node["before"]["cpu"], capacity["cpu"], _cores),
            _share(node["after"]["cpu"], capacity["cpu"], _cores),
        )
    return table


def _share(amount: int, capacity: int, show: Any) -> str:
    percent = f" ({amount / capacity * 100:.0f}%)" if capacity else ""
    return f"{show(amount)}{percent}"


def _cores(millicores: int) -> str:
    return f"{millicores / 1000:.3f}".rstrip("0").rstrip(".")
