"""The node's own endpoints: is it up, and which node is it."""

from __future__ import annotations

from fastapi import APIRouter

from ozymandias.api.services import Services

router = APIRouter(tags=["node"])


@router.get("/healthz")
async def healthz(services: Services) -> dict[str, str]:
    return {"status": "ok", "node": services.node.name}
