"""`ozy tls ca create` and `ozy tls cert create`: a cluster CA and the node certificates it signs.

After `nomad tls ca create` / `nomad tls cert create`. The files are PEM;
keys are written mode 0600, and nothing already there is replaced without
`--force`. The certificates are made by `tls/certificates.py`, with the
`cryptography` package (no openssl subprocess).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ozymandias.cli.app import OutputOption, check_output, fail, for_machines, out, print_data
from ozymandias.tls.certificates import (
    CA_DAYS,
    CERT_DAYS,
    create_ca,
    create_node_certificate,
    parse_ips,
)

ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace files already there (their old keys are lost).")
]


def ca_create(
    directory: Annotated[
        Path, typer.Argument(help="Where to write ca.pem and ca-key.pem (made if missing).")
    ],
    days: Annotated[
        int, typer.Option(min=1, max=100 * 365, help="How long the CA is valid, in days.")
    ] = CA_DAYS,
    force: ForceOption = False,
    output: OutputOption = "table",
) -> None:
    """Make a cluster CA: ca.pem (give it to every node and client) and ca-key.pem (keep it).

    The CA signs node certificates (`ozy tls cert create`) and nothing else:
    it cannot sign another CA.

    Example: ozy tls ca create ./tls
    """
    check_output(output)
    try:
        written = create_ca(directory, days=days, force=force)
    except (ValueError, FileExistsError) as error:
        raise fail(str(error), code=2) from None
    except OSError as error:
        raise fail(f"cannot write into {directory}: {error.strerror}", code=2) from None
    _show_written(written, output)


def cert_create(
    ca: Annotated[
        Path, typer.Option("--ca", help="Directory of the CA (`ozy tls ca create` made it).")
    ],
    name: Annotated[
        str, typer.Option(help="The node's name: its certificate's subject and a DNS name in it.")
    ],
    ip: Annotated[
        list[str] | None,
        typer.Option(help="An address the node is reached at (repeat for several)."),
    ] = None,
    dns: Annotated[
        list[str] | None,
        typer.Option(help="Another DNS name the node is reached by (repeat for several)."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write NAME.pem and NAME-key.pem (default: --ca)."),
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=100 * 365, help="How long it is valid, in days.")
    ] = CERT_DAYS,
    force: ForceOption = False,
    output: OutputOption = "table",
) -> None:
    """Make a node certificate signed by the cluster CA: NAME.pem and NAME-key.pem (0600).

    It serves the node's API (`ozy node run --tls-cert NAME.pem --tls-key
    NAME-key.pem`) and proves the node to its peers and to etcd: it is good
    for servers and clients alike. It names NAME, every --dns and --ip, and
    localhost and 127.0.0.1 (for clients on the node itself).

    Example: ozy tls cert create --ca ./tls --name n1 --ip 10.0.0.11 --dns n1.example.com
    """
    check_output(output)
    try:
        written = create_node_certificate(
            ca,
            name,
            out_dir or ca,
            ips=parse_ips(ip or []),
            dns_names=dns or [],
            days=days,
            force=force,
        )
    except (ValueError, FileExistsError) as error:
        raise fail(str(error), code=2) from None
    except OSError as error:
        raise fail(f"cannot write into {out_dir or ca}: {error.strerror}", code=2) from None
    _show_written(written, output)


def _show_written(paths: list[Path], output: str) -> None:
    cert, key = paths
    if for_machines(output):
        return print_data(output, {"cert": str(cert), "key": str(key)})
    out.print(f"wrote {cert}", highlight=False, soft_wrap=True)
    out.print(f"wrote {key} (mode 0600: keep it secret)", highlight=False, soft_wrap=True)
