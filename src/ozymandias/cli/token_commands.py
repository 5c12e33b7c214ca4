"""`ozy acl bootstrap` and `ozy token create|list|revoke`: the API's tokens.

A secret is printed once, when its token is made; the cluster keeps only
its hash, so a lost secret is revoked and made anew, never shown again.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from ozymandias.acl.roles import Role
from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    for_machines,
    out,
    print_data,
    show_list,
)
from ozymandias.cli.tables import new_table
from ozymandias.client_config import write_token_file


def acl_bootstrap(
    save: Annotated[
        bool,
        typer.Option(
            "--save", help="Also save the secret as this client's token file (mode 0600)."
        ),
    ] = False,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Make the cluster's first admin token and print its secret (once per cluster).

    `ozy up` does this by itself. A cluster started from `ozy node run` daemons
    is bootstrapped once, from any node; after that this answers 409.

    Example: ozy acl bootstrap --api https://10.0.0.11:7070 --save
    """
    check_output(output)
    token = call(api, "POST", "/v1/acl/bootstrap")
    if save:
        write_token_file(token["secret"])
    _show_made(token, output)


def token_create(
    name: Annotated[str, typer.Option(help="What the token is for, e.g. ci or alice.")],
    role: Annotated[
        Role,
        typer.Option(
            help="read: every GET but logs; deploy: also jobs, logs, aliases; admin: all."
        ),
    ],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Make a token and print its secret; it is shown this once.

    Example: ozy token create --name ci --role deploy
    """
    check_output(output)
    token = call(api, "POST", "/v1/acl/tokens", json={"name": name, "role": role.value})
    _show_made(token, output)


def token_list(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List tokens: name, role, accessor and creation time (never a secret).

    Example: ozy token list -o json
    """
    show_list(api, "/v1/acl/tokens", output, tokens_table, "no tokens")


def token_revoke(
    accessor: Annotated[str, typer.Argument(help="The token's accessor (see `ozy token list`).")],
    api: ApiOption = DEFAULT_API,
) -> None:
    """Revoke a token: every node refuses it within a second.

    Example: ozy token revoke 4f6c0e7d2a9b4b1c8e5d3f2a1b0c9d8e
    """
    call(api, "DELETE", f"/v1/acl/tokens/{accessor}")
    out.print(f"token {accessor} revoked")


def tokens_table(tokens: list[dict[str, Any]], wide: bool = False) -> Table:
    """Every column is short: `wide` adds none."""
    del wide
    table = new_table("NAME", "ROLE", "ACCESSOR", "CREATED")
    for token in tokens:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(token["createTime"]))
        table.add_row(token["name"], token["role"], token["accessor"], created)
    return table


def _show_made(token: dict[str, Any], output: str) -> None:
    if for_machines(output):
        return print_data(output, token)
    out.print(f"token {token['name']} ({token['role']}), accessor {token['accessor']}")
    out.print(f"secret: {token['secret']}", highlight=False, soft_wrap=True)
    out.print("[dim]The secret is shown only now: keep it (e.g. export OZY_TOKEN=...).[/]")
