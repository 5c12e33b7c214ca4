"""`ozy logs`: stream a container's output through any node's API."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from ozymandias.cli.api_client import DEFAULT_API, ApiError
from ozymandias.cli.app import ApiOption, fail, open_client


def logs(
    instance: Annotated[str, typer.Argument(help="Instance name, e.g. simple-webapp-0.")],
    container: Annotated[
        str | None, typer.Option("--container", "-c", help="Container (default: the job's first).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming new output.")
    ] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Print a container's output, from whichever node runs the instance.

    Example: ozy logs simple-webapp-0 -c app -f
    """
    params: dict[str, Any] = {"follow": follow}
    if container:
        params["container"] = container
    if tail is not None:
        params["tail"] = tail
    client = open_client(api)
    try:
        for chunk in client.stream_text(f"/v1/instances/{instance}/logs", params):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except ApiError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
