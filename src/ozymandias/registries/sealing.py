"""A registry's password sealed and opened as a secret's values are (pure).

The sealed name is `registry <registry>`, which no secret can have (a
secret's name is a DNS label), so a login's ciphertext never opens as a
secret's, nor one registry's as another's.
"""

from __future__ import annotations

import time

from ozymandias.cluster.records import RegistryLogin
from ozymandias.secrets.sealing import Sealed, decode, encode, open_sealed, seal

_KEYS = ["password"]


def sealed_name(registry: str) -> str:
    return f"registry {registry}"


def seal_login(
    key: bytes, registry: str, username: str, password: str, ca: str | None
) -> RegistryLogin:
    sealed = seal(key, sealed_name(registry), {"password": password})
    return RegistryLogin(
        registry=registry,
        username=username,
        update_time=time.time(),
        key_id=sealed.key_id,
        nonce=encode(sealed.nonce),
        ciphertext=encode(sealed.ciphertext),
        ca=ca,
    )


def open_login(keys: dict[str, bytes], login: RegistryLogin) -> str:
    """The login's password; `SecretUnreadable` if no key of `keys` opens it."""
    sealed = Sealed(login.key_id, decode(login.nonce), decode(login.ciphertext))
    return open_sealed(keys, sealed_name(login.registry), sealed, _KEYS)["password"]


def reseal_login(key: bytes, login: RegistryLogin, password: str) -> RegistryLogin:
    """The same login sealed with `key` (a key rotation): user, CA and time kept."""
    sealed = seal(key, sealed_name(login.registry), {"password": password})
    return login.model_copy(
        update={
            "key_id": sealed.key_id,
            "nonce": encode(sealed.nonce),
            "ciphertext": encode(sealed.ciphertext),
        }
    )
