"""How a node calls its peers' APIs: over the scheme each peer registered, TLS verified.

A peer's `api_url` (in its node record) says http or https. Over https,
the peer's certificate is checked against the cluster CA the node was
given (`--tls-ca`, by default `--tls-client-ca`; without either, the
system's CAs), and the node shows its own API certificate as its client
certificate, so peers that require client certificates let it in.

The SSL context is built once, when the node starts: loading certificates
costs milliseconds, and peers are asked when every millisecond counts (a
node about to fence).
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ozymandias.tls.contexts import ClientTls, client_context


class PeerLink:
    """Makes the httpx clients a node calls its peers with.

    `secret` is the peers' credential; a node reads it from etcd once it
    reaches etcd, after its TLS files were already checked here.
    """

    def __init__(self, tls: ClientTls | None = None, secret: str = "") -> None:
        """ValueError if `tls` names files that are not certificates."""
        self.secret = secret
        self._context: ssl.SSLContext = client_context(tls or ClientTls())

    @property
    def credential_headers(self) -> dict[str, str]:
        """The headers that prove the caller is one of the cluster's nodes (see api/auth.py)."""
        return {"authorization": f"Bearer {self.secret}"}

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An httpx client whose https calls use the node's TLS settings; `options` for httpx."""
        return httpx.AsyncClient(verify=self._context, **options)
