"""GET /v1/ingress: every node's ingress routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ozymandias.api import views
from ozymandias.api.services import Services
from ozymandias.ingress.controller import current_routes

router = APIRouter(tags=["ingress"])


@router.get("/v1/ingress")
async def list_ingress(services: Services) -> dict[str, Any]:
    """Every node's ingress routes, with their healthy backends (the same on every node)."""
    return views.ingress_view(current_routes(services.mirrors, services.ingress_port))
