"""`ozy registry login|logout|list`: the logins every node pulls images with.

The password is read from stdin only (`--password-stdin`, as `docker login`
and `podman login` take it), so it is in no shell history or process list.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    fail,
    for_machines,
    out,
    print_data,
    show_list,
)
from ozymandias.cli.tables import new_table

registry_app = typer.Typer(
    help="Registry logins: every node pulls images of a registry with its stored login.",
    no_args_is_help=True,
)

RegistryArgument = Annotated[
    str, typer.Argument(help="The registry: host or host:port, e.g. 127.0.0.1:5000.")
]


@registry_app.command("login")
def registry_login(
    registry: RegistryArgument,
    username: Annotated[str, typer.Option("--username", "-u", help="The registry user.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin (required)."),
    ] = False,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file", help="PEM file of the CA the registry's certificate is from, if private."
        ),
    ] = None,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Store a registry's login for every node's pulls (the password sealed as a secret).

    Example: ozy registry login 127.0.0.1:5000 -u ci --password-stdin < pw.txt
    """
    check_output(output)
    if not password_stdin:
        raise fail("give the password on stdin with --password-stdin", code=2)
    password = sys.stdin.read().rstrip("\r\n")
    if not password:
        raise fail("no password on stdin", code=2)
    body: dict[str, Any] = {"username": username, "password": password}
    if ca_file is not None:
        try:
            body["ca"] = ca_file.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise fail(f"cannot read {ca_file}: {error}", code=2) from None
    login = call(api, "PUT", f"/v1/registries/{registry}", json=body)
    if for_machines(output):
        return print_data(output, login)
    out.print(f"logged in to {login['registry']} as {login['username']}")


@registry_app.command("logout")
def registry_logout(registry: RegistryArgument, api: ApiOption = DEFAULT_API) -> None:
    """Forget a registry's login; pulls from it are anonymous from then on.

    Example: ozy registry logout 127.0.0.1:5000
    """
    call(api, "DELETE", f"/v1/registries/{registry}")
    out.print(f"logged out of {registry}")


@registry_app.command("list")
def registry_list(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List the registries with a login: user, CA, update time (never a password).

    Example: ozy registry list -o json
    """
    show_list(api, "/v1/registries", output, registries_table, "no registry logins")


def registries_table(logins: list[dict[str, Any]], wide: bool = False) -> Table:
    table = new_table("REGISTRY", "USERNAME", "CA", "UPDATED")
    if wide:
        table.add_column("KEY ID")
    for login in logins:
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(login["updateTime"]))
        row = [login["registry"], login["username"], "yes" if login["ca"] else "-", updated]
        if wide:
            row.append(login["keyId"])
        table.add_row(*row)
    return table
