"""What a node is told about TLS and credentials: for its API, and for reaching etcd.

Plain data, filled in by `ozy node run`'s "Security" flags; the API server and
the etcd client read the files when they start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerTls:
    """The API served over HTTPS; with `client_ca`, only to clients with a certificate it signed."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class EtcdSecurity:
    """How to reach etcd: TLS files (client certificate optional) and etcd's own user, if any."""

    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    user: str | None = None
    password_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("--etcd-cert and --etcd-key go together")
        if (self.user is None) != (self.password_file is None):
            raise ValueError("--etcd-user and --etcd-password-file go together")

    @property
    def tls(self) -> bool:
        return self.cacert is not None or self.cert is not None

    def password(self) -> str | None:
        """The etcd user's password, read from its file (one line; the newline is not part)."""
        if self.password_file is None:
            return None
        return self.password_file.read_text().rstrip("\r\n")
