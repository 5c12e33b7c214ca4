"""`ozy alias set|get|list|delete`: DNS aliases in the cluster domain."""

from __future__ import annotations

from typing import Annotated

import typer

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
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import aliases_table


def alias_set(
    name: Annotated[str, typer.Argument(help="Alias, e.g. frontend (in the cluster domain).")],
    targets: Annotated[list[str], typer.Argument(help="Names, e.g. web.job db-0.pod other.")],
    api: ApiOption = DEFAULT_API,
) -> None:
    """Create or replace an alias; it resolves to the union of its healthy targets.

    Example: ozy alias set frontend simple-webapp.job
    """
    alias = call(api, "PUT", f"/v1/dns/aliases/{name}", json={"targets": targets})
    out.print(f"alias {alias['name']} → {', '.join(alias['targets'])}")


def alias_get(
    name: Annotated[str, typer.Argument(help="Alias.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Show one alias's targets.

    Example: ozy alias get frontend
    """
    check_output(output)
    alias = call(api, "GET", f"/v1/dns/aliases/{name}")
    if for_machines(output):
        return print_data(output, alias)
    print_table(out, aliases_table([alias], output == "wide"))


def alias_list(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List every alias.

    Example: ozy alias list -o json
    """
    show_list(api, "/v1/dns/aliases", output, aliases_table, "no aliases")


def alias_delete(
    name: Annotated[str, typer.Argument(help="Alias.")], api: ApiOption = DEFAULT_API
) -> None:
    """Delete an alias.

    Example: ozy alias delete frontend
    """
    deleted = call(api, "DELETE", f"/v1/dns/aliases/{name}")
    out.print(f"alias {deleted['name']} deleted")
