"""GET /v1/events: the cluster's event log, optionally of one job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services
from ozymandias.api.watch_stream import WATCH_RESPONSES, LastEventId, Watch
from ozymandias.watch.feeds import EVENT

router = APIRouter(tags=["events"])


MAX_EVENTS = 1000


@router.get(
    "/v1/events",
    dependencies=[requires(Role.READ)],
    response_model=list[dict[str, Any]],
    responses=WATCH_RESPONSES,
)
async def list_events(
    request: Request,
    services: Services,
    job: Annotated[str | None, Query(max_length=253)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS, description="the newest this many")] = 100,
    since: Annotated[
        float | None, Query(ge=0, description="only events at or after this Unix time")
    ] = None,
    watch: Watch = False,
    last_event_id: LastEventId = None,
) -> Any:
    """Recent events (kept for about an hour), oldest first. With watch, the newest `limit`
    first, then each new one (and DELETED as they expire)."""
    if watch:

        def wanted(event: dict[str, Any]) -> bool:
            of_job = job is None or event["job"] == job
            return of_job and (since is None or event["time"] >= since)

        return services.watches.open(request, EVENT, last_event_id, wanted, initial_limit=limit)
    events = await services.store.list_events(job, limit=limit, since=since)
    return [event.model_dump() for event in events]
