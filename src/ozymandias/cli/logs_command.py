"""`ozy logs`: stream a container's output through any node's API."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from ozymandias.cli.api_client import DEFAULT_API, ApiClient, ApiError
from ozymandias.cli.app import ApiOption, err, fail, open_client
from ozymandias.log_window import MAX_TAIL, parse_since


def logs(
    instance: Annotated[str, typer.Argument(help="Instance name, e.g. simple-webapp-0.")],
    container: Annotated[
        str | None, typer.Option("--container", "-c", help="Container (default: the job's first).")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep streaming new output, across restarts."),
    ] = False,
    tail: Annotated[
        int | None, typer.Option(min=0, max=MAX_TAIL, help="Only the last N lines.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only output written since then: a duration back (10s, 5m, 1h) "
            "or an RFC3339 time (2026-12-07T10:00:00Z)."
        ),
    ] = None,
    timestamps: Annotated[
        bool,
        typer.Option(
            "--timestamps", help="Prefix each line with its RFC3339 time (to the second)."
        ),
    ] = False,
    previous: Annotated[
        bool,
        typer.Option(
            "--previous", "-p", help="The output of the run before the container's last restart."
        ),
    ] = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Print a container's output, from whichever node runs the instance.

    With --follow it goes on across the container's restarts (no line twice). It
    ends with a note, exit 0, when the instance is gone, when its container exited
    and will not restart, or when the node that ran it stopped; exit 1 when the
    connection to the API is lost.

    A restart keeps the container, and its log keeps every run: --previous finds
    the run before the last restart for as long as the container lasts (a new
    version, or a move to another node, brings new containers) and within the
    log's last 10 MiB.

    Example: ozy logs simple-webapp-0 -c app -f --since 5m --timestamps
    """
    if previous and follow:
        raise fail("--previous and --follow do not go together: the previous run has ended", 2)
    if since is not None:
        try:
            parse_since(since, datetime.now(UTC))
        except ValueError as error:
            raise fail(str(error), 2) from None
    params: dict[str, Any] = {"follow": follow, "timestamps": timestamps, "previous": previous}
    optional = {"container": container, "tail": tail, "since": since}
    params.update({key: value for key, value in optional.items() if value is not None})
    client = open_client(api)
    try:
        _stream(client, instance, params)
        if follow:
            _say_why_it_ended(client, instance)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


def _stream(client: ApiClient, instance: str, params: dict[str, Any]) -> None:
    try:
        for chunk in client.stream_text(f"/v1/instances/{instance}/logs", params):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except ApiError as error:
        raise fail(str(error)) from None


def _say_why_it_ended(client: ApiClient, instance: str) -> None:
    """A note on stderr about a follow the server ended: the instance is gone, or its
    container exited and nothing restarts it, or the node that ran it stopped."""
    job = instance.rpartition("-")[0]
    try:
        listed = client.request("GET", "/v1/instances", params={"job": job})
    except ApiError as error:
        if not str(error.problem.get("type", "")).endswith("#job-not-found"):
            # Most likely the node the command talks to stopped, which ended the stream.
            raise fail(f"the log stream ended, and then: {error}") from None
        listed = []
    found = next((item for item in listed if item["name"] == instance), None)
    if found is None:
        note = f"{instance} is gone (its job was deleted or scaled down)"
    else:
        where = f" on {found['node']}" if found["node"] else ""
        note = (
            f"{instance} is {found['state']}{where}: its log ends here (the container "
            "exited and will not restart, or the node that ran it stopped)"
        )
    err.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True)
