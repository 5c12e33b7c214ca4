"""/v1/dns/aliases: the DNS aliases users define; writes go through the alias service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services
from ozymandias.dns.alias_service import AliasConflict
from ozymandias.dns.skydns_layout import AliasRejected

router = APIRouter(tags=["dns"])


class AliasRequest(BaseModel):
    targets: list[str] = Field(
        min_length=1, description="names of jobs, pods, nodes or aliases, e.g. db.job"
    )


@router.get("/v1/dns/aliases", dependencies=[requires(Role.READ)])
async def list_aliases(services: Services) -> list[dict[str, Any]]:
    return [alias.model_dump() for alias in await store_call(services.aliases.list_aliases())]


@router.get("/v1/dns/aliases/{name}", dependencies=[requires(Role.READ)])
async def get_alias(name: str, services: Services) -> dict[str, Any]:
    full = services.aliases.full_name(name)
    alias = await store_call(services.aliases.get_alias(full))
    if alias is None:
        raise _alias_not_found(full)
    return alias.model_dump()


@router.put("/v1/dns/aliases/{name}", dependencies=[requires(Role.DEPLOY)])
async def put_alias(
    name: str, body: Annotated[AliasRequest, Body()], services: Services
) -> dict[str, Any]:
    """Create or replace an alias: it resolves to the union of its healthy targets."""
    try:
        alias = await store_call(services.aliases.put_alias(name, body.targets))
    except AliasRejected as rejection:
        status = 400 if rejection.kind == "invalid-dns-alias" else 422
        raise Problem(status, rejection.kind, rejection.title, rejection.detail) from None
    except AliasConflict:
        raise Problem(
            409,
            "dns-alias-conflict",
            "DNS aliases changed concurrently",
            f"other alias edits kept landing while writing {name!r}; retry",
        ) from None
    return alias.model_dump()


@router.delete("/v1/dns/aliases/{name}", dependencies=[requires(Role.DEPLOY)])
async def delete_alias(name: str, services: Services) -> dict[str, Any]:
    full = services.aliases.full_name(name)
    if not await store_call(services.aliases.delete_alias(full)):
        raise _alias_not_found(full)
    return {"name": full, "deleted": True}


def _alias_not_found(name: str) -> Problem:
    return Problem(404, "dns-alias-not-found", "No such DNS alias", f"there is no alias {name!r}")
