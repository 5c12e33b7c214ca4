"""Paged lists, as Kubernetes pages them: `?limit=N&continue=TOKEN`. Pure.

A page is the first `limit` items after the token's key, in the list's key
order (jobs and nodes by name, instances by job then index). The token is
opaque to clients: base64url of the last item's key and the revision of the
mirror the page was read from. The next page, on this node or any other,
is read from a mirror at least that new, so paging never goes back in time;
it is not one snapshot, though (a node keeps no past revisions): an item
changed between two pages appears as it is when its page is read, and every
item that exists throughout, under one key, is in exactly one page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

# The response header that carries the next page's token (a list answers a bare array).
CONTINUE_HEADER = "X-Continue"
MAX_LIMIT = 5000
# A token holds one key (a job name and an index at most) and a revision.
MAX_TOKEN_LENGTH = 1024

Key = tuple[str | int, ...]
T = TypeVar("T")


class InvalidContinue(ValueError):
    """A continue token this API did not make (or made for another list)."""


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after `after`; read from a mirror at `revision` or later."""

    after: Key
    revision: int


def encode_token(cursor: Cursor) -> str:
    raw = json.dumps([list(cursor.after), cursor.revision], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, shape: tuple[type, ...]) -> Cursor:
    """The cursor in `token`, whose key must have `shape` (e.g. (str, int) for instances)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after, revision = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidContinue("the continue token is not one this API made") from None
    if not isinstance(after, list) or not _fits(after, shape):
        raise InvalidContinue("the continue token is not one of this list")
    if type(revision) is not int or revision < 0:
        raise InvalidContinue("the continue token's revision is not a revision")
    return Cursor(tuple(after), revision)


def _fits(key: list[object], shape: tuple[type, ...]) -> bool:
    # `type(...) is`, not isinstance: JSON's true is no index.
    if len(key) != len(shape):
        return False
    return all(type(part) is kind for part, kind in zip(key, shape, strict=True))


def take_page(entries: Iterable[tuple[Key, T]], limit: int) -> tuple[list[T], Key | None]:
    """The first `limit` of `entries` (key order), and the last one's key if more follow."""
    items: list[T] = []
    last: Key | None = None
    for key, item in entries:
        if len(items) == limit:
            return items, last
        items.append(item)
        last = key
    return items, None
