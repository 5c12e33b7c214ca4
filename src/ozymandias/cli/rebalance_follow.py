"""Following a rebalance to its end: poll it and show each move's progress.

On a terminal, a live table redrawn in place; anywhere else (CI, a pipe),
plain lines printed only when a move changed, so a log shows each step once.
What is shown and how it ends is decided in rebalance_view.py.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from ozymandias.cli.api_client import ApiClient, ApiError
from ozymandias.cli.app import fail, for_machines, open_client, out, print_data
from ozymandias.cli.deployment_view import changed_lines, elapsed_text
from ozymandias.cli.rebalance_view import RebalanceOutcome, move_lines, moves_table, verdict

POLL_SECONDS = 1.0


def follow_rebalance(api: str, output: str, timeout: float | None) -> None:
    """Follow the current rebalance until it ends (or `timeout` seconds pass); exit non-zero
    when a move failed or it did not end in time."""
    client = open_client(api)
    try:
        rebalance, outcome = _follow(client, output, math.inf if timeout is None else timeout)
    finally:
        client.close()
    if for_machines(output):
        print_data(output, rebalance)
        if outcome.exit_code:
            raise fail(outcome.message, code=outcome.exit_code)
        return
    if not outcome.done:
        raise fail(
            f"the rebalance is still running after {timeout:.0f}s ({outcome.message}); it goes"
            " on: follow it with `ozy rebalance --follow`"
        )
    if outcome.exit_code:
        raise fail(outcome.message, code=outcome.exit_code)
    out.print(escape(outcome.message), highlight=False, soft_wrap=True)


def _follow(
    client: ApiClient, output: str, limit: float
) -> tuple[dict[str, Any], RebalanceOutcome]:
    started = time.monotonic()
    rebalance = _fetch(client)
    quiet = for_machines(output)
    screen = Live(console=out, refresh_per_second=4) if out.is_terminal and not quiet else None
    shown: dict[str, str] = {}
    if screen is not None:
        screen.start()
    try:
        while True:
            elapsed = time.monotonic() - started
            outcome = verdict(rebalance)
            if screen is not None:
                screen.update(
                    Group(
                        Text(outcome.message),
                        moves_table(rebalance),
                        Text(f"elapsed {elapsed_text(elapsed)}", style="dim"),
                    )
                )
            elif not quiet:
                lines = move_lines(rebalance)
                for line in changed_lines(shown, lines):
                    # Unwrapped: a log keeps each line whole.
                    out.print(
                        f"[{elapsed_text(elapsed)}] {line}",
                        markup=False,
                        highlight=False,
                        soft_wrap=True,
                    )
                shown = lines
            if outcome.done or elapsed > limit:
                return rebalance, outcome
            time.sleep(POLL_SECONDS)
            rebalance = _fetch(client)
    finally:
        if screen is not None:
            screen.stop()


def _fetch(client: ApiClient) -> dict[str, Any]:
    try:
        rebalance: dict[str, Any] = client.request("GET", "/v1/rebalance/current")
    except ApiError as error:
        raise fail(str(error)) from None
    return rebalance
