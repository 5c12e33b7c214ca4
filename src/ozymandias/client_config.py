"""Where a client finds its token: `--token`, then OZY_TOKEN, then the token file; and the
environment variables of its TLS files.

The file is `~/.config/ozymandias/token` (under $XDG_CONFIG_HOME if set),
mode 0600, as `ozy up` writes it after bootstrapping its cluster. Kept apart
from the CLI because `ozy up`'s daemon writes it too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TOKEN_ENV = "OZY_TOKEN"
CACERT_ENV = "OZY_CACERT"
CLIENT_CERT_ENV = "OZY_CLIENT_CERT"
CLIENT_KEY_ENV = "OZY_CLIENT_KEY"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ozymandias"


def token_file() -> Path:
    return config_dir() / "token"


def find_token(explicit: str | None = None) -> str | None:
    """The token to send: the flag's, the environment's, or the file's; None if none is set."""
    if explicit:
        return explicit.strip()
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if from_env:
        return from_env
    try:
        return token_file().read_text().strip() or None
    except OSError:
        return None


def write_token_file(secret: str) -> Path | None:
    """Save `secret` as the token file, mode 0600 from its first byte.

    A file already there (another cluster's token) is kept beside it as
    token.<time>.previous rather than lost; returns that path, if any.
    """
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept: Path | None = None
    if path.exists() and path.read_text().strip() != secret:
        kept = path.with_name(f"token.{int(time.time())}.previous")
        path.rename(kept)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)
    return kept
