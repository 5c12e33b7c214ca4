"""The node's own endpoints: is it up, which node is it, and which version it runs."""

from __future__ import annotations

from fastapi import APIRouter

from ozymandias import __version__
from ozymandias.acl.roles import Role
from ozymandias.api.auth import HEALTH_PATH, requires
from ozymandias.api.services import Services

router = APIRouter(tags=["node"])


@router.get(HEALTH_PATH)
async def health(services: Services) -> dict[str, str]:
    return {"status": "ok", "node": services.node.name}


@router.get("/v1/version", dependencies=[requires(Role.READ)])
async def api_version(services: Services) -> dict[str, str]:
    """The Ozymandias version this node runs (`ozy version` shows it beside the client's)."""
    return {"version": __version__, "node": services.node.name}
