"""`kubectl logs POD [-c C] [-f] [--tail N]`: GET pods/{name}/log, as text/plain.

From the same source as `ozy logs` (api/instances.py's `log_response`): the
node that runs the instance, this one or a peer asked with the caller's own
token. Role deploy, as `ozy logs`: output may hold what a job's secrets
made. A pod of one container needs no container named; of several, a
missing name is a 400 worded as the apiserver's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from ozymandias.acl.roles import Role
from ozymandias.agent.log_following import LogRequest
from ozymandias.api.auth import requires
from ozymandias.api.instance_proxy import InstancePlace, caller_credential, locate_instance
from ozymandias.api.instances import log_response
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.kube.status import bad_request, not_found
from ozymandias.kube_api import context
from ozymandias.kube_api.errors import failure
from ozymandias.log_window import MAX_SINCE_LENGTH, MAX_TAIL, parse_since

router = APIRouter()


@router.get(
    "/api/v1/namespaces/{namespace}/pods/{name}/log",
    dependencies=[requires(Role.DEPLOY)],
    summary="A pod's container's output (follow: as it comes)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def pod_log(
    namespace: Annotated[str, Path(max_length=63)],
    name: Annotated[str, Path(max_length=253)],
    request: Request,
    services: Services,
    container: Annotated[str | None, Query(max_length=253)] = None,
    follow: bool = False,
    tail_lines: Annotated[int | None, Query(alias="tailLines", ge=0, le=MAX_TAIL)] = None,
    since_seconds: Annotated[int | None, Query(alias="sinceSeconds", ge=1)] = None,
    since_time: Annotated[str | None, Query(alias="sinceTime", max_length=MAX_SINCE_LENGTH)] = None,
    timestamps: bool = False,
    previous: bool = False,
) -> Response:
    context.check_namespace(namespace)
    place = _place(name, services)
    chosen = _container(name, place, container, services)
    if previous and follow:
        raise bad_request("previous and follow do not go together: the previous run has ended")
    since = _since(since_seconds, since_time)
    wanted = LogRequest(
        follow=follow, tail=tail_lines, since=since, timestamps=timestamps, previous=previous
    )
    # What a peer that runs the instance is asked, in its ozy API's words.
    query = {"container": chosen, "follow": str(follow).lower()}
    query |= {"timestamps": str(timestamps).lower(), "previous": str(previous).lower()}
    if tail_lines is not None:
        query["tail"] = str(tail_lines)
    if since is not None:
        query["since"] = since.isoformat().replace("+00:00", "Z")
    where = (place.job, place.index, place.node, name, chosen, caller_credential(request))
    if follow:
        services.follows.begin()
    try:
        response = await log_response(services, *where, wanted, query)
    except BaseException:
        if follow:
            services.follows.end()
        raise
    if isinstance(response, StreamingResponse) and response.status_code < 400:
        if follow:
            response.body_iterator = services.follows.counted(response.body_iterator)
        return response
    if follow:
        services.follows.end()
    return _as_status(response)


def _place(name: str, services: ApiServices) -> InstancePlace:
    try:
        return locate_instance(name, services.mirrors)
    except Problem:
        raise not_found("Pod", name) from None


def _container(pod: str, place: InstancePlace, container: str | None, services: ApiServices) -> str:
    record = services.mirrors.job(place.job)
    names = list(record.spec.containers) if record is not None else []
    if container is None:
        if len(names) == 1:
            return names[0]
        raise bad_request(
            f"a container name must be specified for pod {pod}, choose one of: [{' '.join(names)}]"
        )
    if container not in names:
        raise bad_request(f"container {container} is not valid for pod {pod}")
    return container


def _since(seconds: int | None, time: str | None) -> datetime | None:
    now = datetime.now(UTC)
    if seconds is not None:
        return now - timedelta(seconds=min(seconds, 3650 * 86400))
    if time is None:
        return None
    try:
        return parse_since(time, now)
    except ValueError as error:
        raise bad_request(f"sinceTime: {error}") from None


def _as_status(response: Response) -> Response:
    """A refusal (this node's or the peer's problem+json) as a Status, which kubectl prints."""
    try:
        detail = str(json.loads(bytes(response.body))["detail"])
    except (ValueError, KeyError, TypeError, AttributeError):
        detail = "the logs could not be read"
    body = failure(response.status_code, detail)
    return Response(
        json.dumps(body), status_code=response.status_code, media_type="application/json"
    )
