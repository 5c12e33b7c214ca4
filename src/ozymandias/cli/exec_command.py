"""`ozy exec`: run a command in a container of an instance, through any node's API."""

from __future__ import annotations

import sys
from typing import Annotated, Any, BinaryIO

import typer

from ozymandias.cli.api_client import DEFAULT_API, ApiError
from ozymandias.cli.app import ApiOption, fail, open_client

# As GNU `timeout`: the exit code of a command that ran over its time.
TIMED_OUT_EXIT_CODE = 124
# As a shell: 128 + SIGINT.
INTERRUPTED_EXIT_CODE = 130


def exec_command(
    instance: Annotated[str, typer.Argument(help="Instance name, e.g. simple-webapp-0.")],
    command: Annotated[
        list[str], typer.Argument(help="The program and its arguments, after `--`.")
    ],
    container: Annotated[
        str | None, typer.Option("--container", "-c", help="Container (default: the job's first).")
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds the command may run before it is killed.", min=0.1)
    ] = 60.0,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Run a command in a running container, from whichever node runs the instance.

    The command runs without a shell, stdin or a terminal; its stdout and
    stderr come to this command's own as it writes them, and ozy exits with
    its exit code (124 if it ran over --timeout and was killed).

    Example: ozy exec simple-webapp-0 -c app -- sh -c 'ls /srv'
    """
    body: dict[str, Any] = {"command": command, "timeout": timeout}
    if container:
        body["container"] = container
    client = open_client(api)
    try:
        for item in client.stream_json_lines(f"/v1/instances/{instance}/exec", body):
            if "stream" in item:
                _write(sys.stderr.buffer if item["stream"] == "stderr" else sys.stdout.buffer, item)
            elif "exitCode" in item:
                raise typer.Exit(int(item["exitCode"]))
            elif "error" in item:
                raise fail(str(item["error"]), TIMED_OUT_EXIT_CODE if item.get("timedOut") else 1)
    except ApiError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        # Leaving closes the stream, and the node kills the command.
        raise typer.Exit(INTERRUPTED_EXIT_CODE) from None
    finally:
        client.close()
    raise fail(f"the answer about {instance} ended without the command's exit code")


def _write(stream: BinaryIO, item: dict[str, Any]) -> None:
    # The API's text holds any byte that is not UTF-8 as a lone surrogate: back to the bytes.
    stream.write(str(item["data"]).encode("utf-8", "surrogateescape"))
    stream.flush()
