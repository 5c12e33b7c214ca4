"""The `ssl.SSLContext`s the node's API serves with, and its clients (the CLI, peers) call with.

Built from PEM files by the standard library's `ssl`; a file that is
missing or does not parse is a ValueError naming the flag it came from, so
`ozy node run` and the CLI can refuse it at once (exit 2) instead of failing at
the first handshake.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from ozymandias.tls.settings import ServerTls

# TLS 1.2 at least: what every party here (Python's ssl, etcd's Go TLS) speaks.
_MINIMUM = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True)
class ClientTls:
    """What a client shows and trusts: `ca` verifies the server (None: the system's CAs);
    `cert` and `key`, if given, are its client certificate."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    # Flag names, for errors: the CLI's and a node's differ.
    ca_flag: str = "--ca"
    cert_flag: str = "--client-cert"
    key_flag: str = "--client-key"

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError(f"{self.cert_flag} and {self.key_flag} go together")


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """The API's context: its certificate, and with `client_ca`, client certificates required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _MINIMUM
    _load_chain(context, tls.cert, tls.key, "--tls-cert", "--tls-key")
    if tls.client_ca is not None:
        _load_ca(context, tls.client_ca, "--tls-client-ca")
        # No certificate, or one the CA did not sign: the handshake fails, before any HTTP.
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(tls: ClientTls) -> ssl.SSLContext:
    """A client's context: the server's certificate and host name are always verified."""
    if tls.ca is None:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    else:
        # Only this CA: a cluster's certificates come from its own CA, not a public one.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        _load_ca(context, tls.ca, tls.ca_flag)
    context.minimum_version = _MINIMUM
    if tls.cert is not None and tls.key is not None:
        _load_chain(context, tls.cert, tls.key, tls.cert_flag, tls.key_flag)
    return context


def _load_chain(
    context: ssl.SSLContext, cert: Path, key: Path, cert_flag: str, key_flag: str
) -> None:
    for flag, path in ((cert_flag, cert), (key_flag, key)):
        if not path.is_file():
            raise ValueError(f"{flag} {path}: no such file")
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        raise ValueError(
            f"{cert_flag} {cert} and {key_flag} {key} are not a PEM certificate and its "
            f"private key ({error.reason or error})"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read {cert_flag} or {key_flag}: {error}") from None


def _load_ca(context: ssl.SSLContext, ca: Path, flag: str) -> None:
    if not ca.is_file():
        raise ValueError(f"{flag} {ca}: no such file")
    try:
        context.load_verify_locations(cafile=ca)
    except ssl.SSLError as error:
        raise ValueError(
            f"{flag} {ca} is not a PEM CA certificate ({error.reason or error})"
        ) from None
    except OSError as error:
        raise ValueError(f"cannot read {flag} {ca}: {error}") from None
