"""What a daemon command (`ozy node run`, `ozy up`) shares: its log options, and its
error exit without rich, so `ozy node run` does not import rich's consoles (node_run.py)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ozymandias.logs.setup import LEVEL_ENV, parse_format, parse_level
from ozymandias.logs.setup import configure_logging as setup_logging

LogFormatOption = Annotated[
    str,
    typer.Option(
        "--log-format",
        envvar="OZY_LOG_FORMAT",
        help="The daemon's log: text, or json (one object per line). "
        "OZY_LOG_LEVEL=DEBUG adds the detail.",
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error as app.py's `fail` does (bold red `error:` on a terminal, plain
    in a pipe or a log, unwrapped); the caller raises the returned exit."""
    typer.secho("error:", err=True, fg="red", bold=True, nl=False)
    typer.echo(f" {message}", err=True)
    return typer.Exit(code)


def configure_logging(log_format: str, node: str) -> None:
    """A daemon's logging: `--log-format`, the level from OZY_LOG_LEVEL, `node` on each line."""
    try:
        level = parse_level(os.environ.get(LEVEL_ENV, "INFO"))
        chosen = parse_format(log_format)
    except ValueError as error:
        raise fail(f"{error}", code=2) from None
    setup_logging(level, chosen, node)
