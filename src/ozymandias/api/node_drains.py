"""/v1/nodes/{name}/drain: empty a node for maintenance, and follow how far it got."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.problems import Problem, read_json_body
from ozymandias.api.services import ApiServices, Services
from ozymandias.cluster.records import Drain, instance_name, system_instance_name
from ozymandias.deployments.drain import on_nodes
from ozymandias.spec.durations import parse_duration

router = APIRouter(tags=["nodes"])

DEFAULT_DEADLINE_SECONDS = 300.0
MAX_DEADLINE_SECONDS = 7 * 24 * 3600.0


class DrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deadline: Annotated[float, BeforeValidator(parse_duration)] = Field(
        DEFAULT_DEADLINE_SECONDS,
        gt=0,
        le=MAX_DEADLINE_SECONDS,
        description="how long instances have to move (a duration like 5m, or seconds); what is"
        " left then is stopped and placed again elsewhere",
    )
    force: bool = Field(False, description="stop everything on the node now")


class DrainStatus(BaseModel):
    node: str
    draining: bool
    drained: bool = Field(description="a drain was asked for and nothing is left on the node")
    deadline: float | None = None
    force: bool = False
    remaining: list[str] = Field(description="instances still on the node")
    waiting: dict[str, str] = Field(
        default_factory=dict,
        description="for each job with instances still there, what its deployment waits for",
    )


_DRAIN_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "How long instances have to move, and whether to stop them at once.",
        "content": {"application/json": {"schema": DrainRequest.model_json_schema()}},
    }
}


@router.post(
    "/v1/nodes/{name}/drain",
    openapi_extra=_DRAIN_BODY_DOC,
    dependencies=[requires(Role.ADMIN)],
    response_model=DrainStatus,
)
async def drain_node(name: str, request: Request, services: Services) -> DrainStatus:
    """Cordon the node and move every instance off it, each healthy elsewhere before it goes."""
    body = _parse(await request.body())
    _require_node(services, name)
    now = time.time()
    drain = Drain(node=name, started_at=now, deadline=now + body.deadline, force=body.force)
    await services.store.start_drain(drain)
    return _status(services, name, drain)


@router.get(
    "/v1/nodes/{name}/drain", dependencies=[requires(Role.READ)], response_model=DrainStatus
)
async def drain_status(name: str, services: Services) -> DrainStatus:
    drain = next((d for d in services.mirrors.drain_list() if d.node == name), None)
    if drain is None:
        _require_node(services, name)
    return _status(services, name, drain)


def _status(services: ApiServices, name: str, drain: Drain | None) -> DrainStatus:
    mirrors = services.mirrors
    remaining: list[str] = []
    waiting: dict[str, str] = {}
    for schedule in mirrors.schedules.items.values():
        if indices := on_nodes(schedule, [name]):
            record = mirrors.job(schedule.job)
            if record is not None and record.spec.is_system:
                remaining.append(system_instance_name(schedule.job, name))
            else:
                remaining += [instance_name(schedule.job, index) for index in indices]
            deployment = mirrors.deployment(schedule.job)
            if deployment is not None and deployment.status.active:
                waiting[schedule.job] = deployment.description
    return DrainStatus(
        node=name,
        draining=drain is not None and bool(remaining),
        drained=drain is not None and not remaining,
        deadline=drain.deadline if drain is not None else None,
        force=drain.force if drain is not None else False,
        remaining=sorted(remaining),
        waiting=waiting,
    )


def _require_node(services: ApiServices, name: str) -> None:
    if name not in {node.name for node in services.mirrors.node_list()}:
        raise Problem(404, "node-not-found", "No such node", f"no live node is named {name!r}")


def _parse(body: bytes) -> DrainRequest:
    """The drain request, read as JSON whatever the content type; an empty body is the defaults."""
    return read_json_body(DrainRequest, body, empty_is_default=True)
