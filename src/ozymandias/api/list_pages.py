"""`?limit=&continue=` on the list endpoints: their parameters, and each list in key order.

A list keeps its shape, a JSON array, paged or not; the token for the next
page comes in the `X-Continue` response header, absent on the last page
(Kubernetes puts it in the list's `metadata.continue`, which a bare array
has no room for). See paging.py for what a token holds and promises.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Query, Response

from ozymandias.api import views
from ozymandias.api.paging import (
    CONTINUE_HEADER,
    MAX_LIMIT,
    MAX_TOKEN_LENGTH,
    Cursor,
    InvalidContinue,
    Key,
    decode_token,
    encode_token,
    take_page,
)
from ozymandias.api.problems import Problem
from ozymandias.api.watch_stream import WATCH_RESPONSES
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import AheadOfStore, Mirror

# How long a node behind the token's revision may take to catch up before it says so.
CATCH_UP_SECONDS = 5.0

JOB_KEY = (str,)
NODE_KEY = (str,)
INSTANCE_KEY = (str, int)

Limit = Annotated[
    int | None,
    Query(
        ge=1,
        le=MAX_LIMIT,
        description="At most this many items, the first after `continue` in the list's key "
        f"order; the next page's token comes in the {CONTINUE_HEADER} header (absent on the "
        "last page).",
    ),
]
Continue = Annotated[
    str | None,
    Query(
        alias="continue",
        max_length=MAX_TOKEN_LENGTH,
        description=f"The {CONTINUE_HEADER} header of the previous page: the next one.",
    ),
]

Entries = Iterator[tuple[Key, dict[str, Any]]]

LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        **WATCH_RESPONSES[200],
        "headers": {
            CONTINUE_HEADER: {
                "description": "With limit: the continue token of the next page, if any.",
                "schema": {"type": "string"},
            }
        },
    }
}


def paged(limit: int | None, token: str | None) -> bool:
    return limit is not None or token is not None


async def cursor(mirror: Mirror[Any], token: str | None, shape: tuple[type, ...]) -> Cursor | None:
    """The token's cursor, once `mirror` is at least as new as the page before (400 for a
    token this API did not make, 503 if this node does not catch up in time)."""
    if token is None:
        return None
    try:
        found = decode_token(token, shape)
    except InvalidContinue as error:
        raise Problem(400, "invalid-continue", "Invalid continue token", str(error)) from None
    try:
        async with asyncio.timeout(CATCH_UP_SECONDS):
            await mirror.catch_up(found.revision)
    except AheadOfStore as error:
        raise Problem(400, "invalid-continue", "Invalid continue token", str(error)) from None
    except TimeoutError:
        raise Problem(
            503,
            "node-behind",
            "Node behind",
            f"this node has not yet seen revision {found.revision}, which the previous page "
            "was read at; try again, or ask the node that served it",
        ) from None
    return found


def page(
    response: Response,
    entries: Entries,
    limit: int | None,
    mirror: Mirror[Any],
    at_least: Cursor | None,
) -> list[dict[str, Any]]:
    """One page of `entries`, with the next page's token in the header when more follow."""
    items, last = take_page(entries, limit or MAX_LIMIT)
    if last is not None:
        revision = max(mirror.revision, at_least.revision if at_least else 0)
        response.headers[CONTINUE_HEADER] = encode_token(Cursor(last, revision))
    return items


def job_entries(mirrors: ClusterMirrors, after: Key | None) -> Entries:
    names = sorted(record.spec.name for record in mirrors.jobs.items.values())
    for name in names[_after_name(names, after) :]:
        record = mirrors.job(name)
        if record is not None:
            yield (name,), views.job_summary(record, mirrors)


def instance_entries(mirrors: ClusterMirrors, job: str | None, after: Key | None) -> Entries:
    """Instances by job, then index: from the job the cursor is in, past its index."""
    names = [job] if job else sorted(r.spec.name for r in mirrors.jobs.items.values())
    start = 0 if after is None else bisect.bisect_left(names, str(after[0]))
    for name in names[start:]:
        for item in sorted(views.instances_of(name, mirrors), key=lambda i: int(i["index"])):
            key: Key = (name, int(item["index"]))
            if after is None or key > after:
                yield key, item


def node_entries(mirrors: ClusterMirrors, after: Key | None) -> Entries:
    nodes = sorted(mirrors.node_list(), key=lambda node: node.name)
    names = [node.name for node in nodes]
    allocated, cordoned, draining = mirrors.allocated(), mirrors.cordoned(), mirrors.draining()
    for node in nodes[_after_name(names, after) :]:
        yield (node.name,), views.node_view(node, allocated, cordoned, draining)


def _after_name(names: list[str], after: Key | None) -> int:
    return 0 if after is None else bisect.bisect_right(names, str(after[0]))
