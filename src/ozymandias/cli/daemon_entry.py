"""`ozy node run` on its own: a Typer app of that one command, whose help and errors read
as in the whole `ozy` (tests/unit/test_daemon_entry.py compares them)."""

from __future__ import annotations

import sys


def run_node(args: list[str]) -> None:
    """Parse `ozy node run`'s options and run the daemon, importing no other command."""
    # httpx imports its own command-line tool (httpx._main, with rich and pygments) when
    # they are installed, as they are for ozy's CLI; the daemon never runs it, and they
    # would hold about 3 MiB. None in sys.modules makes that import fail, which httpx
    # expects: it then only lacks `httpx.main`.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    import typer

    from ozymandias.cli.completion_command import PROG_NAME
    from ozymandias.cli.help_format import name_the_values
    from ozymandias.cli.node_run import run

    app = typer.Typer(add_completion=False)
    app.command()(run)
    command = typer.main.get_command(app)
    name_the_values(command)
    command(args=args, prog_name=f"{PROG_NAME} node run")
