"""`ozy secret set|list|get|delete|keygen|rotate-key`: secrets, sealed before they reach etcd.

No command prints a value: `get` and `list` show keys, versions and update
times. A value given as KEY=VALUE is in the shell's history and the process
list; `--from-file KEY=PATH` keeps it off both.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    YesOption,
    call,
    check_output,
    confirm_destroying,
    fail,
    for_machines,
    out,
    print_data,
    show_list,
)
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import new_table
from ozymandias.secrets.keyring import KeyFileError, read_key_file, write_new_key_file


def _pairs(items: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise fail(f"{what} {item.split('=', 1)[0]!r} is not KEY=...", code=2)
        pairs.append((key, value))
    return pairs


def _file_value(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise fail(f"cannot read {path}: {error.strerror}", code=2) from None
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text", code=2) from None


def secret_set(
    name: Annotated[str, typer.Argument(help="Secret name, e.g. db.")],
    values: Annotated[
        list[str] | None, typer.Argument(help="KEY=VALUE pairs (the secret's every key).")
    ] = None,
    from_file: Annotated[
        list[str] | None,
        typer.Option("--from-file", help="KEY=PATH: the key's value is the file's content."),
    ] = None,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Set a secret's values (replacing all of them); jobs using it roll out anew.

    Example: ozy secret set db user=webapp --from-file password=./db-password
    """
    check_output(output)
    data = dict(_pairs(values or [], "value"))
    data.update((key, _file_value(path)) for key, path in _pairs(from_file or [], "--from-file"))
    if not data:
        raise fail("give at least one KEY=VALUE or --from-file KEY=PATH", code=2)
    secret = call(api, "PUT", f"/v1/secrets/{name}", json={"data": data})
    if for_machines(output):
        return print_data(output, secret)
    what = "set" if secret["changed"] else "unchanged"
    out.print(f"secret {secret['name']} {what} (version {secret['version']})")
    if secret["rolledOut"]:
        out.print(f"rolling out a new version of: {', '.join(secret['rolledOut'])}")


def secret_list(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List secrets: name, keys, version and update time (never a value).

    Example: ozy secret list -o json
    """
    show_list(api, "/v1/secrets", output, secrets_table, "no secrets")


def secret_get(
    name: Annotated[str, typer.Argument(help="Secret name.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Show a secret's keys, version, update time and the jobs using it (never a value).

    Example: ozy secret get db -o json
    """
    check_output(output)
    secret = call(api, "GET", f"/v1/secrets/{name}")
    if for_machines(output):
        return print_data(output, secret)
    print_table(out, secrets_table([secret], output == "wide"))
    out.print(f"used by: {', '.join(secret['usedBy']) or 'no job'}")


def secret_delete(
    name: Annotated[str, typer.Argument(help="Secret name.")],
    yes: YesOption = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Delete a secret; refused while a job uses it.

    Example: ozy secret delete db --yes
    """
    confirm_destroying(f"deleting secret {name}", yes=yes)
    call(api, "DELETE", f"/v1/secrets/{name}")
    out.print(f"secret {name} deleted")


def secret_keygen(
    file: Annotated[Path, typer.Argument(help="Where to write the key (never overwritten).")],
) -> None:
    """Make a secrets key file (mode 0600) and print the key's id.

    Give the file to every node (`ozy node run --secrets-key-file FILE`); to rotate,
    add a new key's line to every node's file, then `ozy secret rotate-key`.

    Example: ozy secret keygen /etc/ozymandias/secrets.key
    """
    try:
        key_id = write_new_key_file(file)
    except FileExistsError:
        raise fail(f"{file} exists: a key file is never overwritten", code=2) from None
    except OSError as error:
        raise fail(f"cannot write {file}: {error.strerror}", code=2) from None
    out.print(f"secrets key {key_id} written to {file}")


def secret_rotate_key(
    new_key_file: Annotated[
        Path,
        typer.Option("--new-key-file", help="A key file whose first key every node already holds."),
    ],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Seal every secret again with a new key; new secrets use it from then on.

    First add the new key's line to every node's --secrets-key-file (nodes
    read it again when it changes); jobs keep running. Only the key's id is
    sent: the key itself never leaves the file.

    Example: ozy secret rotate-key --new-key-file new.key
    """
    check_output(output)
    try:
        key_id = read_key_file(new_key_file).first_id
    except KeyFileError as error:
        raise fail(str(error), code=2) from None
    result = call(api, "POST", "/v1/secrets/rotate-key", json={"keyId": key_id})
    if for_machines(output):
        return print_data(output, result)
    out.print(f"secrets are sealed with key {result['keyId']}: {len(result['resealed'])} re-sealed")


def secrets_table(secrets: list[dict[str, Any]], wide: bool = False) -> Table:
    """KEYS, a list, last (a long one harms no column); the sealing KEY ID only when `wide`."""
    table = new_table("NAME", "VERSION", "UPDATED", "KEYS")
    if wide:
        table.add_column("KEY ID")
    for secret in secrets:
        updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secret["updateTime"]))
        row = [secret["name"], str(secret["version"]), updated, ", ".join(secret["keys"])]
        if wide:
            row.append(secret["keyId"])
        table.add_row(*row)
    return table
