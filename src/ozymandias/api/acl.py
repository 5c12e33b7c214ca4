"""/v1/acl: the bootstrap that makes the first admin token, and the tokens an admin manages.

A secret is in an answer exactly once, when its token is made; etcd and
every later answer hold only its accessor (see acl/tokens.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import SECRET_PATTERN, make_token, new_secret
from ozymandias.api.auth import BOOTSTRAP_PATH, requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.cluster.records import AclToken

router = APIRouter(tags=["acl"])

_MIRROR_WAIT_SECONDS = 5.0

_NAME = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@\- ]*$")


class BootstrapRequest(BaseModel):
    secret: str | None = Field(
        default=None,
        pattern=SECRET_PATTERN.pattern,
        description="The admin secret to use, as with Nomad's BootstrapSecret (default: random)",
    )


class TokenRequest(BaseModel):
    name: str = _NAME
    role: Role


def _token_view(token: AclToken) -> dict[str, Any]:
    return {
        "accessor": token.accessor,
        "name": token.name,
        "role": token.role,
        "createTime": token.create_time,
    }


@router.post(BOOTSTRAP_PATH, status_code=201)
async def bootstrap(
    services: Services, body: Annotated[BootstrapRequest | None, Body()] = None
) -> dict[str, Any]:
    """Make the cluster's first admin token and return its secret; once per cluster, then 409."""
    secret = body.secret if body is not None and body.secret else new_secret()
    token = make_token("bootstrap", Role.ADMIN, secret)
    revision = await store_call(services.acl.bootstrap(token))
    if revision is None:
        raise Problem(
            409,
            "already-bootstrapped",
            "Already bootstrapped",
            "this cluster's first admin token was made already; ask its holder for a token "
            "(`ozy token create`)",
        )
    await _known_here(services, revision)
    return {**_token_view(token), "secret": secret}


@router.post("/v1/acl/tokens", status_code=201, dependencies=[requires(Role.ADMIN)])
async def create_token(body: Annotated[TokenRequest, Body()], services: Services) -> dict[str, Any]:
    """Make a token; its secret is in this answer and nowhere else."""
    secret = new_secret()
    token = make_token(body.name, body.role, secret)
    await _known_here(services, await store_call(services.acl.create_token(token)))
    return {**_token_view(token), "secret": secret}


async def _known_here(services: ApiServices, revision: int) -> None:
    """Wait until this node's mirror has the new token, so the caller can use it right away.

    Bounded: a mirror that lags (etcd just failed over) costs the caller a
    retry, not a hung request.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_MIRROR_WAIT_SECONDS):
            await services.mirrors.tokens.wait_for_revision(revision)


@router.get("/v1/acl/tokens", dependencies=[requires(Role.READ)])
async def list_tokens(services: Services) -> list[dict[str, Any]]:
    tokens = sorted(services.mirrors.tokens.items.values(), key=lambda t: (t.create_time, t.name))
    return [_token_view(token) for token in tokens]


@router.delete("/v1/acl/tokens/{accessor}", dependencies=[requires(Role.ADMIN)])
async def revoke_token(accessor: str, services: Services) -> dict[str, Any]:
    """Revoke a token: every node refuses it as soon as its mirror sees the deletion (this one
    before it answers)."""
    revision = await store_call(services.acl.revoke_token(accessor))
    if revision is None:
        raise Problem(
            404, "token-not-found", "No such token", f"no token has accessor {accessor!r}"
        )
    await _known_here(services, revision)
    return {"accessor": accessor, "revoked": True}
