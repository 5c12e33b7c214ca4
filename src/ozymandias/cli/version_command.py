"""`ozy version` and `ozy --version`: the client's version, and the API's."""

from __future__ import annotations

from typing import Annotated

import typer

from ozymandias import __version__
from ozymandias.cli.api_client import DEFAULT_API, ApiError
from ozymandias.cli.app import (
    ApiOption,
    CaOption,
    ClientCertOption,
    ClientKeyOption,
    OutputOption,
    TokenOption,
    check_output,
    credentials,
    fail,
    for_machines,
    open_client,
    out,
    print_data,
)


def version(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """Print the versions of this client and of the API it talks to.

    Like `kubectl version`: the client's is always printed; if the API can't
    be reached, that is said and the exit code is 1.

    Example: ozy version -o json
    """
    check_output(output)
    client = open_client(api)
    try:
        server = client.request("GET", "/v1/version")
    except ApiError as error:
        if for_machines(output):
            print_data(output, {"client": __version__, "server": None})
        else:
            out.print(f"client: {__version__}")
        raise fail(str(error)) from None
    finally:
        client.close()
    if for_machines(output):
        return print_data(output, {"client": __version__, "server": server})
    out.print(f"client: {__version__}")
    out.print(f"server: {server['version']} (node {server['node']} at {api})")


def print_version_and_exit(value: bool) -> None:
    """The eager `--version` flag: the client's version, without asking the API."""
    if value:
        out.print(f"ozy {__version__}")
        raise typer.Exit()


def root_options(
    token: TokenOption = None,
    ca: CaOption = None,
    client_cert: ClientCertOption = None,
    client_key: ClientKeyOption = None,
    show: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=print_version_and_exit,
            help="Print the client's version and exit (`ozy version` asks the API too).",
        ),
    ] = False,
) -> None:
    """The app's callback: the options every command shares, and the eager --version flag."""
    credentials.token = token
    credentials.ca = ca
    credentials.client_cert = client_cert
    credentials.client_key = client_key
