"""The `ozy` Typer app and its sub-apps, and what every command shares: the --api and
--output options, the consoles, API calls and the error exit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ozymandias.cli.api_client import ApiClient, ApiError
from ozymandias.cli.job_by_default import JobByDefaultGroup
from ozymandias.cli.table_output import print_table
from ozymandias.client_config import (
    CACERT_ENV,
    CLIENT_CERT_ENV,
    CLIENT_KEY_ENV,
    TOKEN_ENV,
    find_token,
    token_file,
)
from ozymandias.tls.contexts import ClientTls

app = typer.Typer(
    help="Ozymandias: run jobs of podman pods on a cluster of peer nodes coordinated through etcd.",
    no_args_is_help=True,
    add_completion=False,
)
get_app = typer.Typer(
    help="List jobs, instances, deployments, nodes, volumes, events or ingress routes.",
    no_args_is_help=True,
)
describe_app = typer.Typer(help="Show one object in detail.", no_args_is_help=True)
delete_app = typer.Typer(
    cls=JobByDefaultGroup,
    help="Delete a job, or a shared volume a deleted job kept."
    "\n\n`ozy delete JOB` is `ozy delete job JOB`; a job named like a command (`volume`) is "
    "deleted with `ozy delete job NAME`."
    "\n\nExample: ozy delete simple-webapp"
    "\n\nExample: ozy delete volume simple-webapp/data-shared --yes",
    no_args_is_help=True,
)
alias_app = typer.Typer(
    help="DNS aliases: a name in the cluster domain over jobs, pods, nodes or other aliases.",
    no_args_is_help=True,
)
node_app = typer.Typer(
    help="Run a node daemon (`ozy node run`), or cordon, drain and uncordon nodes."
    "\n\nExample: ozy node run --name n1 --etcd http://10.0.0.1:2379"
    "\n\nExample: ozy node drain n2 --deadline 10m",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens: create one per person or system, with a role; list and revoke them.",
    no_args_is_help=True,
)
tls_app = typer.Typer(
    help="Certificates for the API, its peers and clients: a CA and the certificates it signs."
    "\n\nExample: ozy tls ca create ./tls && "
    "ozy tls cert create --ca ./tls --name n1 --ip 10.0.0.11",
    no_args_is_help=True,
)
tls_ca_app = typer.Typer(help="The cluster's certificate authority.", no_args_is_help=True)
tls_cert_app = typer.Typer(
    help="Node certificates, signed by the cluster CA.", no_args_is_help=True
)
tls_app.add_typer(tls_ca_app, name="ca")
tls_app.add_typer(tls_cert_app, name="cert")
secret_app = typer.Typer(
    help="Secrets: values sealed with the cluster's key, given to containers as variables "
    "or files.",
    no_args_is_help=True,
)
deployment_app = typer.Typer(
    help="Deployments: how a job's newest version rolls out; see it, or fail it.",
    no_args_is_help=True,
)
acl_app = typer.Typer(
    help="Access control: make the cluster's first admin token.", no_args_is_help=True
)
# `ozy --help` lists the sub-apps in this order, after the commands.
app.add_typer(get_app, name="get")
app.add_typer(describe_app, name="describe")
app.add_typer(delete_app, name="delete")
app.add_typer(deployment_app, name="deployment")
app.add_typer(alias_app, name="alias")
app.add_typer(node_app, name="node")
app.add_typer(token_app, name="token")
app.add_typer(secret_app, name="secret")
app.add_typer(acl_app, name="acl")
app.add_typer(tls_app, name="tls")

out = Console()
err = Console(stderr=True)

ApiOption = Annotated[
    str,
    typer.Option("--api", envvar="OZY_API", help="Base URL of any node's API."),
]
OutputOption = Annotated[
    str,
    typer.Option(
        "--output",
        "-o",
        help="table, wide (a table with more columns), or json or yaml for machines.",
    ),
]
DEFAULT_WAIT_SECONDS = 120.0


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error; the caller raises the returned exit (`raise fail(...)`).

    Unwrapped (the terminal wraps it, a pipe or a log gets it whole), and as
    text: a message may quote brackets that rich would take for markup.
    """
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def warn(message: str) -> None:
    """Print a warning: the command goes on (unwrapped and unmarked, as `fail`)."""
    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation before destroying data.")
]


def confirm_destroying(what: str, *, yes: bool) -> None:
    """Ask on a terminal before `what` destroys data; off a terminal, only `--yes` goes ahead."""
    confirm(
        f"{what}: its data cannot be recovered. Go ahead?",
        yes=yes,
        refusal=f"{what} destroys data: pass --yes to do it without a terminal",
        declined="nothing was deleted",
    )


def confirm(question: str, *, yes: bool, refusal: str, declined: str) -> None:
    """Ask `question` on a terminal before an action that cannot be undone; off a terminal,
    only `--yes` goes ahead (`refusal` says so), and a "no" exits 1 (`declined` says what).

    A script that pipes into ozy cannot answer, and must not do harm by
    default either: it says --yes.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise fail(refusal, code=2)
    if not typer.confirm(question, default=False):
        raise fail(declined, code=1)


@dataclass
class Credentials:
    """What the app's callback was given (`ozy --token T --ca F ...`), for every command."""

    token: str | None = None
    ca: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


credentials = Credentials()

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help=f"API token secret (default: ${TOKEN_ENV}, then {token_file()}).",
        show_default=False,
    ),
]
CaOption = Annotated[
    Path | None,
    typer.Option(
        "--ca",
        "--cacert",
        envvar=CACERT_ENV,
        help="CA certificate (PEM) that signed an https:// API's certificate "
        "(`ozy tls ca create` makes one; default: the system's CAs).",
        show_default=False,
    ),
]
ClientCertOption = Annotated[
    Path | None,
    typer.Option(
        envvar=CLIENT_CERT_ENV,
        help="Client certificate (PEM), for an API that requires one (--tls-client-ca); "
        "needs --client-key.",
        show_default=False,
    ),
]
ClientKeyOption = Annotated[
    Path | None,
    typer.Option(
        envvar=CLIENT_KEY_ENV, help="Private key (PEM) of --client-cert.", show_default=False
    ),
]


def open_client(api: str) -> ApiClient:
    try:
        tls = ClientTls(ca=credentials.ca, cert=credentials.client_cert, key=credentials.client_key)
        return ApiClient(api, token=find_token(credentials.token), tls=tls)
    except (ApiError, ValueError) as error:
        raise fail(str(error), code=2) from None


def call(api: str, method: str, path: str, **kwargs: Any) -> Any:
    """One API request: its JSON answer, or exit 1 with the API's error."""
    client = open_client(api)
    try:
        return client.request(method, path, **kwargs)
    except ApiError as error:
        raise fail(str(error)) from None
    finally:
        client.close()


def list_pages(api: str, path: str, params: dict[str, str], chunk_size: int) -> list[Any]:
    """Every page of a list, fetched `chunk_size` items at a time; exit 1 on an API error."""
    client = open_client(api)
    try:
        return list(client.list_pages(path, params, chunk_size))
    except ApiError as error:
        raise fail(str(error)) from None
    finally:
        client.close()


OUTPUTS = ("table", "wide", "json", "yaml")


def for_machines(output: str) -> bool:
    """Whether `output` asks for the API's data (json, yaml) rather than a table for people."""
    return output in ("json", "yaml")


def print_data(output: str, data: Any) -> None:
    """`data` for machines, as `-o json` or `-o yaml` asks (the API's JSON, unchanged)."""
    if output == "yaml":
        out.print(yaml.safe_dump(data, sort_keys=False).rstrip(), highlight=False, soft_wrap=True)
    else:
        out.print_json(json.dumps(data))


def check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise fail(f"--output must be one of {', '.join(OUTPUTS)}, not {output!r}", code=2)


def show_list(
    api: str,
    path: str,
    output: str,
    table: Callable[[list[dict[str, Any]], bool], Table],
    empty: str,
    params: dict[str, str] | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda _item: True,
    chunk_size: int = 0,
) -> None:
    """What every `ozy get` of a list does: fetch it (in pages of `chunk_size`; 0: at once),
    keep what `keep` selects (`-l`), then print JSON, its table (more columns for `-o
    wide`), or `empty`."""
    check_output(output)
    if chunk_size > 0:
        fetched = [
            item for page in list_pages(api, path, params or {}, chunk_size) for item in page
        ]
    else:
        fetched = call(api, "GET", path, params=params or {})
    items = [item for item in fetched if keep(item)]
    if for_machines(output):
        return print_data(output, items)
    if items:
        print_table(out, table(items, output == "wide"))
    else:
        out.print(empty)


def read_text(file: Path, *, code: int = 2) -> str:
    """The file's text; `-` is stdin. Exits `code` if it cannot be read."""
    if str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text()
    except OSError as error:
        raise fail(f"cannot read {file}: {error.strerror}", code=code) from None


def show_progress(line: str) -> None:
    """A progress line of `ozy up`, `down` and `demo`, on stderr."""
    err.print(f"[dim]…[/] {line}")
