"""GET /v1/events: the cluster's event log, optionally of one job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services

router = APIRouter(tags=["events"])


MAX_EVENTS = 1000


@router.get("/v1/events", dependencies=[requires(Role.READ)])
async def list_events(
    services: Services,
    job: Annotated[str | None, Query(max_length=253)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS, description="the newest this many")] = 100,
    since: Annotated[
        float | None, Query(ge=0, description="only events at or after this Unix time")
    ] = None,
) -> list[dict[str, Any]]:
    """Recent events (kept for about an hour), oldest first."""
    events = await services.store.list_events(job, limit=limit, since=since)
    return [event.model_dump() for event in events]
