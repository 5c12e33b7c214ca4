"""The node's secrets keys: a key file of one or more keys, read with a mode check.

A key file holds one key per line, base64 of 32 random bytes; `#` starts a
comment. Every key in it opens secrets sealed with it, so a rotation is:
add the new key to every node's file (`ozy secret keygen` makes one), run
`ozy secret rotate-key --new-key-file F` (every secret is sealed again with
it), then drop the old key. Nodes holding both keys keep working
throughout; the file is read again whenever it changes, so no node restarts.

The file must be the owner's alone (mode 0600 or stricter): a key anyone on
the host can read is no key.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ozymandias.secrets.sealing import KEY_BYTES, key_id_of

MAX_KEY_FILE_BYTES = 64 * 1024  # hundreds of keys; a bigger file is not a key file


class KeyFileError(Exception):
    """The key file is missing, readable by others, or not a key file."""


@dataclass(frozen=True)
class Keyring:
    """Keys by id, in the file's order; the first one seals when the cluster names none."""

    keys: dict[str, bytes]

    @property
    def first_id(self) -> str:
        return next(iter(self.keys))


def parse_key_file(text: str, origin: str = "the key file") -> Keyring:
    """The keys in a key file's text (pure)."""
    keys: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            key = base64.b64decode(entry, validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(f"{origin}, line {number}: not base64") from None
        if len(key) != KEY_BYTES:
            raise KeyFileError(
                f"{origin}, line {number}: a key is {KEY_BYTES} bytes, this one {len(key)}"
            )
        keys[key_id_of(key)] = key
    if not keys:
        raise KeyFileError(f"{origin} holds no key (`ozy secret keygen FILE` makes one)")
    return Keyring(keys)


def new_key_line() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def write_new_key_file(path: Path) -> str:
    """Make a key file holding one new key (mode 0600, never overwriting); returns its id."""
    line = new_key_line()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(f"# ozymandias secrets key {key_id_of(base64.b64decode(line))}\n{line}\n")
    return key_id_of(base64.b64decode(line))


def read_key_file(path: Path) -> Keyring:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise KeyFileError(f"cannot open secrets key file {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
        if mode & 0o077:
            raise KeyFileError(
                f"secrets key file {path} has mode {mode:04o}: others may read it; "
                f"`chmod 600 {path}`"
            )
        raw = file.read(MAX_KEY_FILE_BYTES + 1)
    if len(raw) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"secrets key file {path} is larger than {MAX_KEY_FILE_BYTES} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise KeyFileError(f"secrets key file {path} is not text") from None
    return parse_key_file(text, str(path))


class KeyFile:
    """The node's key file, read again whenever it changes (a key added for a rotation)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, ...] | None = None
        self._keyring: Keyring | None = None

    def keyring(self) -> Keyring:
        """The file's keys; raises `KeyFileError` if it can't be read now."""
        try:
            status = self.path.stat()
        except OSError as error:
            raise KeyFileError(
                f"cannot read secrets key file {self.path}: {error.strerror}"
            ) from None
        # The mode too: a file made readable by others is refused from then on.
        stamp = (status.st_mtime_ns, status.st_size, status.st_ino, status.st_mode)
        if self._keyring is None or stamp != self._stamp:
            self._keyring = read_key_file(self.path)
            self._stamp = stamp
        return self._keyring
