"""Certificates for the tests' nodes: a CA per session, a certificate per node, made with
`ozymandias.tls.certificates` (what `ozy tls` runs), and the client settings that trust them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

from ozymandias.tls.certificates import CA_CERT_FILE, create_ca, create_node_certificate
from ozymandias.tls.contexts import ClientTls, client_context


@dataclass(frozen=True)
class NodeCertificate:
    cert: Path
    key: Path


class TestPki:
    """A cluster CA in `directory`, and the certificates it signs."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        create_ca(directory)

    @property
    def ca(self) -> Path:
        return self.directory / CA_CERT_FILE

    def certificate(self, name: str, ips: tuple[str, ...] = ()) -> NodeCertificate:
        """`name`'s certificate (for `ips`, localhost and 127.0.0.1), made anew each time."""
        cert, key = create_node_certificate(
            self.directory,
            name,
            self.directory / "nodes",
            ips=[ip_address(ip) for ip in ips],
            force=True,
        )
        return NodeCertificate(cert, key)

    def node_flags(
        self, certificate: NodeCertificate, *, require_clients: bool = True
    ) -> tuple[str, ...]:
        """`ozy node run`'s flags to serve HTTPS with `certificate` (and call peers, trusting the
        CA); with `require_clients`, only to clients showing a certificate of this CA."""
        flags = ("--tls-cert", str(certificate.cert), "--tls-key", str(certificate.key))
        if require_clients:
            return (*flags, "--tls-client-ca", str(self.ca))
        return (*flags, "--tls-ca", str(self.ca))

    def client(self, certificate: NodeCertificate | None = None) -> ClientTls:
        """A client trusting this CA, showing `certificate` if given."""
        if certificate is None:
            return ClientTls(ca=self.ca)
        return ClientTls(ca=self.ca, cert=certificate.cert, key=certificate.key)

    def context(self, certificate: NodeCertificate | None = None) -> ssl.SSLContext:
        """`client(certificate)`'s SSL context, for httpx's `verify`."""
        return client_context(self.client(certificate))
