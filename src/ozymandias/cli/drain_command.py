"""`ozy node drain`: empty a node for maintenance, following it until nothing is left."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    YesOption,
    call,
    check_output,
    fail,
    for_machines,
    out,
    print_data,
)
from ozymandias.spec.durations import parse_duration

# How often the drain's progress is read; how long past its deadline it is followed.
_POLL_SECONDS = 0.5
_GRACE_SECONDS = 60.0


def drain(
    name: Annotated[str, typer.Argument(help="Node name.")],
    deadline: Annotated[
        str,
        typer.Option(
            "--deadline",
            help="How long instances have to move elsewhere (e.g. 5m); what is left then is"
            " stopped and placed again wherever there is room.",
        ),
    ] = "5m",
    force: Annotated[
        bool, typer.Option("--force", help="Stop every instance on the node now.")
    ] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return once the drain is asked for.")
    ] = False,
    yes: YesOption = False,
    output: OutputOption = "table",
    api: ApiOption = DEFAULT_API,
) -> None:
    """Cordon a node and move every instance off it, then report it empty.

    Each instance moves as in a deployment: its replacement starts on another
    node and is healthy (for the job's min_healthy_time) before it stops, at
    most max_parallel of a job at a time, so a job never loses capacity. An
    instance with nowhere else to go waits for room until the deadline.
    `ozy node uncordon` makes the node eligible again.

    Example: ozy node drain n2 --deadline 10m
    """
    check_output(output)
    try:
        seconds = parse_duration(deadline)
    except ValueError as error:
        raise fail(f"--deadline: {error}", code=2) from None
    if force and not yes:
        if not sys.stdin.isatty():
            raise fail("--force stops every instance on the node at once: pass --yes", code=2)
        if not typer.confirm(f"Stop every instance on {name} now?", default=False):
            raise fail("nothing was changed")
    status = call(
        api, "POST", f"/v1/nodes/{name}/drain", json={"deadline": seconds, "force": force}
    )
    if not detach:
        status = _follow(api, name, seconds)
    if for_machines(output):
        return print_data(output, status)
    if status["drained"]:
        out.print(f"node {name} drained: no instance left on it")
    else:
        raise fail(f"node {name} still runs {', '.join(status['remaining'])}")


def _follow(api: str, name: str, deadline: float) -> dict[str, Any]:
    """The drain's status, read until the node is empty (or well past the deadline)."""
    started = time.monotonic()
    shown: tuple[list[str], dict[str, str]] | None = None
    while True:
        status: dict[str, Any] = call(api, "GET", f"/v1/nodes/{name}/drain")
        now = (list(status["remaining"]), dict(status["waiting"]))
        if now != shown:
            elapsed = time.monotonic() - started
            remaining, waiting = now
            listing = ", ".join(remaining) if remaining else "none"
            out.print(
                f"{elapsed:5.1f}s  {len(remaining)} left on {name}: {listing}", soft_wrap=True
            )
            for job, why in sorted(waiting.items()):
                out.print(f"        {job}: {why}", soft_wrap=True, highlight=False)
            shown = now
        if status["drained"] or time.monotonic() - started > deadline + _GRACE_SECONDS:
            return status
        time.sleep(_POLL_SECONDS)
