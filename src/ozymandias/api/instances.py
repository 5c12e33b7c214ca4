"""/v1/instances: list instances and stream their logs, from whichever node runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from ozymandias.acl.roles import Role
from ozymandias.agent.log_following import LogRequest, NoPreviousRun
from ozymandias.api import views
from ozymandias.api.auth import requires
from ozymandias.api.errors import job_not_found
from ozymandias.api.instance_proxy import (
    caller_credential,
    container_of,
    forward_to_owner,
    locate_instance,
)
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.api.watch_stream import WATCH_RESPONSES, LastEventId, Watch
from ozymandias.log_window import MAX_SINCE_LENGTH, MAX_TAIL, parse_since
from ozymandias.watch.feeds import INSTANCE

router = APIRouter(tags=["instances"])


@router.get(
    "/v1/instances",
    dependencies=[requires(Role.READ)],
    response_model=list[dict[str, Any]],
    responses=WATCH_RESPONSES,
)
async def list_instances(
    request: Request,
    services: Services,
    job: Annotated[str | None, Query(max_length=253)] = None,
    watch: Watch = False,
    last_event_id: LastEventId = None,
) -> Any:
    mirrors = services.mirrors
    if job is not None and mirrors.job(job) is None:
        raise job_not_found(job)
    if watch:
        return services.watches.open(
            request, INSTANCE, last_event_id, lambda item: job is None or item["job"] == job
        )
    names = [job] if job else [record.spec.name for record in views.sorted_jobs(mirrors)]
    return [item for name in names for item in views.instances_of(name, mirrors)]


@router.get("/v1/instances/{instance}/logs", dependencies=[requires(Role.DEPLOY)])
async def instance_logs(
    instance: str,
    request: Request,
    services: Services,
    container: Annotated[str | None, Query(max_length=253)] = None,
    follow: Annotated[
        bool, Query(description="Keep streaming, across the container's restarts.")
    ] = False,
    tail: Annotated[int | None, Query(ge=0, le=MAX_TAIL)] = None,
    since: Annotated[
        str | None,
        Query(
            max_length=MAX_SINCE_LENGTH,
            description="Output written after this: a duration back (10s, 5m, 1h) "
            "or an RFC3339 time.",
        ),
    ] = None,
    timestamps: Annotated[
        bool, Query(description="Prefix each line with its RFC3339 time (to the second).")
    ] = False,
    previous: Annotated[
        bool, Query(description="The run before the container's last restart.")
    ] = False,
) -> Response:
    wanted = _log_request(follow, tail, since, timestamps, previous)
    mirrors = services.mirrors
    place = locate_instance(instance, mirrors)
    job_name, index, owner = place.job, place.index, place.node
    container = container_of(place, container, mirrors)
    # A peer asked for the logs checks the caller's own token, as this node did.
    caller = caller_credential(request)
    where = (job_name, index, owner, instance, container, caller)
    # The query as received (`since` unparsed) is what a peer is asked: a duration
    # counts back from when the request came, as near on either node.
    query = dict(request.query_params)
    if not follow:
        return await log_response(services, *where, wanted, query)
    services.follows.begin()
    try:
        response = await log_response(services, *where, wanted, query)
    except BaseException:
        services.follows.end()
        raise
    if not isinstance(response, StreamingResponse):  # a peer's refusal, passed on
        services.follows.end()
        return response
    response.body_iterator = services.follows.counted(response.body_iterator)
    return response


def _log_request(
    follow: bool, tail: int | None, since: str | None, timestamps: bool, previous: bool
) -> LogRequest:
    if previous and follow:
        raise Problem(
            400,
            "invalid-log-request",
            "Invalid logs request",
            "previous and follow do not go together: the previous run has ended",
        )
    try:
        start = parse_since(since, datetime.now(UTC)) if since is not None else None
    except ValueError as error:
        raise Problem(400, "invalid-log-request", "Invalid logs request", str(error)) from None
    return LogRequest(
        follow=follow, tail=tail, since=start, timestamps=timestamps, previous=previous
    )


async def log_response(
    services: ApiServices,
    job_name: str,
    index: int,
    owner: str,
    instance: str,
    container: str,
    caller: str,
    wanted: LogRequest,
    query: dict[str, str],
) -> Response:
    """The instance's logs, from this node's runtime or from the node that runs it."""
    mirrors = services.mirrors
    if owner != services.node.name:
        peer_query = {**query, "container": container}
        return await _proxy_logs(services, owner, instance, peer_query, caller)
    if not services.agent.has_container(job_name, index, container):
        status = next((s for s in mirrors.instance_statuses(job_name) if s.index == index), None)
        state = status.state.value if status is not None else "pending"
        raise Problem(
            409,
            "container-not-started",
            "Container not started",
            f"{instance} has no {container} container on {owner} yet (the instance is {state})",
        )
    try:
        stream = await services.agent.logs(job_name, index, container, wanted)
    except NoPreviousRun as error:
        raise Problem(
            404,
            "previous-run-not-found",
            "No previous run",
            f"{instance}: {error}; a new version's pod starts with new containers, "
            "without the old ones' output",
        ) from None
    return StreamingResponse(stream, media_type="text/plain")


async def _proxy_logs(
    services: ApiServices, owner: str, instance: str, query: dict[str, str], caller: str
) -> Response:
    """Logs of an instance on another node, from that node's API; its errors are passed on."""
    path = f"/v1/instances/{instance}/logs"
    return await forward_to_owner(services, owner, instance, caller, "GET", path, params=query)
