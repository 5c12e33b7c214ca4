"""Sealing and opening one secret's values: AES-256-GCM, pure.

A sealed secret holds the id of the key that sealed it, a fresh 96-bit nonce
and the ciphertext (with GCM's tag). The associated data binds the key id
and the secret's name, so a ciphertext copied under another name, or
relabelled with another key's id, fails to open instead of yielding values
where they were never set. All of a secret's values are sealed together, as
one JSON object: its key names are kept beside it in the clear (a job's
references are checked against them without opening anything), and opening
checks that the two agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ozymandias.cluster.records import SealedSecret

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's standard nonce; random per sealing
_AAD_PREFIX = b"ozymandias-secret-v1\x00"


class SecretUnreadable(Exception):
    """A sealed secret could not be opened. The message never holds a value."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes


def key_id_of(key: bytes) -> str:
    """A key's id: derived from the key, so a key file needs no names and ids never clash.

    A hash of the key under its own label reveals nothing usable about it.
    """
    return hashlib.sha256(b"ozymandias-secrets-key-id\x00" + key).hexdigest()[:16]


def _associated_data(key_id: str, name: str) -> bytes:
    return _AAD_PREFIX + key_id.encode() + b"\x00" + name.encode()


def seal(key: bytes, name: str, values: Mapping[str, str], *, nonce: bytes | None = None) -> Sealed:
    """Seal `values` for the secret `name` with `key` (a fresh random nonce unless given)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a secrets key is {KEY_BYTES} bytes, not {len(key)}")
    key_id = key_id_of(key)
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    plaintext = json.dumps(dict(values), sort_keys=True, separators=(",", ":")).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _associated_data(key_id, name))
    return Sealed(key_id, nonce, ciphertext)


def open_sealed(
    keys: Mapping[str, bytes], name: str, sealed: Sealed, expected_keys: list[str]
) -> dict[str, str]:
    """The values of the secret `name`, opened with whichever of `keys` (by id) sealed it."""
    key = keys.get(sealed.key_id)
    if key is None:
        raise SecretUnreadable(
            f"secret {name} is sealed with key {sealed.key_id}, which this node does not hold"
        )
    try:
        plaintext = AESGCM(key).decrypt(
            sealed.nonce, sealed.ciphertext, _associated_data(sealed.key_id, name)
        )
    except InvalidTag:
        raise SecretUnreadable(
            f"secret {name} does not open with key {sealed.key_id}: "
            "it was altered, or sealed for another name"
        ) from None
    values = json.loads(plaintext)
    if not isinstance(values, dict) or sorted(values) != sorted(expected_keys):
        raise SecretUnreadable(f"secret {name}'s sealed keys differ from its record's")
    return {str(k): str(v) for k, v in values.items()}


def open_record(keys: Mapping[str, bytes], record: SealedSecret) -> dict[str, str]:
    """The values of a secret as etcd keeps it."""
    sealed = Sealed(record.key_id, decode(record.nonce), decode(record.ciphertext))
    return open_sealed(keys, record.name, sealed, record.keys)


def encode(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
