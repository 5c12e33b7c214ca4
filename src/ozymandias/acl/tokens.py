"""Token secrets: made at random, stored only as their SHA-256, found again by it.

A secret is 256 random bits, so a fast unsalted hash is enough: there is no
dictionary to try it against, and a fast hash keeps a request's check in
microseconds. Whoever reads etcd learns hashes, which open nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Iterable

from ozymandias.acl.roles import Role
from ozymandias.cluster.records import AclToken

# What an operator may choose as a bootstrap secret (as Nomad lets one):
# enough characters to carry 128 bits or more, and nothing a header mangles.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{32,128}$")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_accessor() -> str:
    """The public name of a token: shown by `ozy token list`, and revoked by."""
    return uuid.uuid4().hex


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(presented: str, expected: str) -> bool:
    """Compare secrets in constant time (a timing side channel must not spell one out)."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def make_token(name: str, role: Role, secret: str) -> AclToken:
    """A new token record for `secret`, which it does not hold."""
    return AclToken(
        accessor=new_accessor(),
        name=name,
        role=role.value,
        secret_hash=secret_hash(secret),
        create_time=time.time(),
    )


class TokenIndex:
    """Tokens by the hash of their secret: one dict lookup per request."""

    def __init__(self, tokens: Iterable[AclToken]) -> None:
        self._by_hash = {token.secret_hash: token for token in tokens}

    def find(self, secret: str) -> AclToken | None:
        return self._by_hash.get(secret_hash(secret))
