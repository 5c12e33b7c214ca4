"""`ozy node cordon` and `uncordon` (`ozy node run` is node_run.py's)."""

from __future__ import annotations

from typing import Annotated

import typer

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import ApiOption, call, out


def cordon(
    name: Annotated[str, typer.Argument(help="Node name.")], api: ApiOption = DEFAULT_API
) -> None:
    """Place no new instances on a node; the instances it runs stay.

    Example: ozy node cordon n2
    """
    call(api, "POST", f"/v1/nodes/{name}/cordon")
    out.print(f"node {name} cordoned")


def uncordon(
    name: Annotated[str, typer.Argument(help="Node name.")], api: ApiOption = DEFAULT_API
) -> None:
    """Let a cordoned node take new instances again.

    Example: ozy node uncordon n2
    """
    call(api, "POST", f"/v1/nodes/{name}/uncordon")
    out.print(f"node {name} uncordoned")
