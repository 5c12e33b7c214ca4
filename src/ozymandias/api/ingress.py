"""GET /v1/ingress: the ingress routes, as the node that answers serves them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ozymandias.acl.roles import Role
from ozymandias.api import views
from ozymandias.api.auth import requires
from ozymandias.api.services import Services

router = APIRouter(tags=["ingress"])


@router.get("/v1/ingress", dependencies=[requires(Role.READ)])
async def list_ingress(services: Services) -> dict[str, Any]:
    """The ingress routes with their healthy backends, and what is left out, in `conflicts`.

    Routes are the same on every node but for what is the node's own: a TCP
    port that another process holds there, which this node leaves out.
    """
    return views.ingress_view(services.ingress.routes())
