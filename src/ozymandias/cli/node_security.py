"""`ozy node run`'s security flags: TLS for the API and for etcd, etcd's credentials, the
secrets key.

Declared apart from the rest of `ozy node run`'s options, like the limits, so
that `ozy node run --help` shows them in a panel of their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ozymandias.tls.contexts import server_context
from ozymandias.tls.settings import EtcdSecurity, ServerTls

_PANEL = "Security (TLS, etcd credentials, secrets)"


def _option(help_text: str, *names: str) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option(*names, help=help_text, rich_help_panel=_PANEL)
    return option


TlsCert = Annotated[
    Path | None, _option("Certificate (PEM) to serve the API over HTTPS with; needs --tls-key.")
]
TlsKey = Annotated[Path | None, _option("Private key (PEM) of --tls-cert.")]
TlsClientCa = Annotated[
    Path | None,
    _option("Require API clients (peers too) to show a certificate signed by this CA (PEM)."),
]
TlsCa = Annotated[
    Path | None,
    _option(
        "CA (PEM) that signed the peers' API certificates, for calls to peers over https "
        "(default: --tls-client-ca; without either, the system's CAs)."
    ),
]
InsecureHttp = Annotated[
    bool,
    _option(
        "Serve plain HTTP on a non-loopback --api-host. Anyone on the path can read tokens "
        "and secrets; a warning is logged at every start.",
        "--insecure-http",  # a flag, without typer's --no-insecure-http twin
    ),
]
EtcdCacert = Annotated[Path | None, _option("CA (PEM) that signed etcd's server certificate.")]
EtcdCert = Annotated[Path | None, _option("Client certificate (PEM) to show etcd.")]
EtcdKey = Annotated[Path | None, _option("Private key (PEM) of --etcd-cert.")]
EtcdUser = Annotated[str | None, _option("etcd user, when etcd's auth is enabled.")]
EtcdPasswordFile = Annotated[Path | None, _option("File holding --etcd-user's password.")]
SecretsKeyFile = Annotated[
    Path | None,
    _option(
        "Key file (mode 0600) that seals and opens secrets: one key a line, all of them "
        "opening, read again when it changes (`ozy secret keygen` makes one; every node holds "
        "the cluster's key). Without it, this node can neither set secrets nor run jobs "
        "that use them."
    ),
]


def server_tls(cert: Path | None, key: Path | None, client_ca: Path | None) -> ServerTls | None:
    """The API's TLS settings, or None for plain HTTP; ValueError names what is missing."""
    if cert is None and key is None:
        if client_ca is not None:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        raise ValueError("--tls-cert and --tls-key go together")
    tls = ServerTls(cert=cert, key=key, client_ca=client_ca)
    # Loaded once here, so a wrong file is an error now, not at the first handshake.
    server_context(tls)
    return tls


def peer_ca(path: Path | None) -> Path | None:
    if path is not None and not path.is_file():
        raise ValueError(f"--tls-ca {path}: no such file")
    return path


def etcd_security(
    cacert: Path | None,
    cert: Path | None,
    key: Path | None,
    user: str | None,
    password_file: Path | None,
) -> EtcdSecurity:
    files = (
        ("--etcd-cacert", cacert),
        ("--etcd-cert", cert),
        ("--etcd-key", key),
        ("--etcd-password-file", password_file),
    )
    for flag, path in files:
        if path is not None and not path.is_file():
            raise ValueError(f"{flag} {path}: no such file")
    return EtcdSecurity(cacert=cacert, cert=cert, key=key, user=user, password_file=password_file)
