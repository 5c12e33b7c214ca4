"""HAProxy's runtime API over its stats socket: one command line per connection.

The stats socket reads a command line into one buffer and answers it, then
closes the connection (non-interactive mode): nothing to parse but the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

from ozymandias.ingress.haproxy_config import command_lines


async def send(socket_path: Path, command: str) -> str:
    """One runtime API exchange: send, then read until HAProxy closes the connection."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        return (await reader.read()).decode(errors="replace")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def reports(line: str) -> bool:
    """Whether a runtime API reply line reports success: `set server … addr` says what changed."""
    return "changed from" in line or line.startswith("no need to change")


async def run_commands(socket_path: Path, commands: Sequence[str]) -> list[str]:
    """Run `commands`, a connection per line of them separated by ';'; returns the reply
    lines that report a failure (each command answers with one when it fails). Lines
    are bounded: a whole cluster's instances turning healthy at once is too long for one."""
    problems: list[str] = []
    for line in command_lines(commands):
        reply = await send(socket_path, line)
        problems += [row for row in reply.splitlines() if row.strip() and not reports(row)]
    return problems
