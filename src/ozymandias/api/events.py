"""GET /v1/events: the cluster's event log, optionally of one job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services

router = APIRouter(tags=["events"])


@router.get("/v1/events", dependencies=[requires(Role.READ)])
async def list_events(
    services: Services, job: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    return [event.model_dump() for event in await services.store.list_events(job, limit=limit)]
