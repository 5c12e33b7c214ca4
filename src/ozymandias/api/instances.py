"""/v1/instances: list instances and stream their logs, from whichever node runs them."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from ozymandias.acl.roles import Role
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
from ozymandias.api.request_limits import Follows
from ozymandias.api.services import ApiServices, Services

router = APIRouter(tags=["instances"])


@router.get("/v1/instances", dependencies=[requires(Role.READ)])
async def list_instances(services: Services, job: str | None = None) -> list[dict[str, Any]]:
    mirrors = services.mirrors
    if job is not None and mirrors.job(job) is None:
        raise job_not_found(job)
    names = [job] if job else [record.spec.name for record in views.sorted_jobs(mirrors)]
    return [item for name in names for item in views.instances_of(name, mirrors)]


@router.get("/v1/instances/{instance}/logs", dependencies=[requires(Role.DEPLOY)])
async def instance_logs(
    instance: str,
    request: Request,
    services: Services,
    container: str | None = None,
    follow: bool = False,
    tail: int | None = None,
) -> Response:
    mirrors = services.mirrors
    place = locate_instance(instance, mirrors)
    job_name, index, owner = place.job, place.index, place.node
    container = container_of(place, container, mirrors)
    # A peer asked for the logs checks the caller's own token, as this node did.
    caller = caller_credential(request)
    where = (job_name, index, owner, instance, container, tail, caller)
    if not follow:
        return await _logs(services, *where, follow=False)
    services.follows.begin()
    try:
        response = await _logs(services, *where, follow=True)
    except BaseException:
        services.follows.end()
        raise
    if not isinstance(response, StreamingResponse):  # a peer's refusal, passed on
        services.follows.end()
        return response
    response.body_iterator = _counted(response.body_iterator, services.follows)
    return response


async def _counted(stream: AsyncIterable[Any], follows: Follows) -> AsyncIterator[Any]:
    """`stream`, counted among the followed logs until it ends or its client leaves."""
    try:
        async for chunk in stream:
            yield chunk
    finally:
        follows.end()


async def _logs(
    services: ApiServices,
    job_name: str,
    index: int,
    owner: str,
    instance: str,
    container: str,
    tail: int | None,
    caller: str,
    *,
    follow: bool,
) -> Response:
    """The instance's logs, from this node's runtime or from the node that runs it."""
    mirrors = services.mirrors
    if owner != services.node.name:
        return await _proxy_logs(services, owner, instance, container, follow, tail, caller)
    if not services.agent.has_container(job_name, index, container):
        status = next((s for s in mirrors.instance_statuses(job_name) if s.index == index), None)
        state = status.state.value if status is not None else "pending"
        raise Problem(
            409,
            "container-not-started",
            "Container not started",
            f"{instance} has no {container} container on {owner} yet (the instance is {state})",
        )
    stream = services.agent.logs(job_name, index, container, follow=follow, tail=tail)
    return StreamingResponse(stream, media_type="text/plain")


async def _proxy_logs(
    services: ApiServices,
    owner: str,
    instance: str,
    container: str,
    follow: bool,
    tail: int | None,
    caller: str,
) -> Response:
    """Logs of an instance on another node, from that node's API; its errors are passed on."""
    params: dict[str, Any] = {"container": container, "follow": follow}
    if tail is not None:
        params["tail"] = tail
    path = f"/v1/instances/{instance}/logs"
    return await forward_to_owner(services, owner, instance, caller, "GET", path, params=params)
