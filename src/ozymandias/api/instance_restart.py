"""POST /v1/instances/{instance}/restart: a new pod for one instance, the others untouched.

`POST /v1/jobs/{name}/restart` replaces every pod of a job, through a new
version and its deployment. This replaces one instance's pod, at the same
version, as the node that runs it replaces a pod for a new spec: withdrawn
from DNS and the ingress, drained, removed, started anew. Served by that
node (any other passes it on, see instance_proxy.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ozymandias.acl.roles import Role
from ozymandias.agent.node_agent import InstanceBusy
from ozymandias.api.auth import requires
from ozymandias.api.instance_proxy import caller_credential, forward_to_owner, locate_instance
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services

router = APIRouter(tags=["instances"])


@router.post(
    "/v1/instances/{instance}/restart",
    dependencies=[requires(Role.DEPLOY)],
    status_code=202,
    responses={
        202: {
            "description": "The old pod is gone and a new one is starting: `restartedAt` (Unix"
            " time, the node's clock) is then, so the instance's `updatedAt` from then on is"
            " about the new pod.",
        }
    },
)
async def restart_instance(instance: str, request: Request, services: Services) -> Response:
    """Replace the instance's pod by a new one (its other instances are left alone)."""
    place = locate_instance(instance, services.mirrors)
    if place.node != services.node.name:
        path = f"/v1/instances/{instance}/restart"
        caller = caller_credential(request)
        return await forward_to_owner(services, place.node, instance, caller, "POST", path)
    try:
        restarted_at = await services.agent.restart_instance(place.job, place.index)
    except InstanceBusy as error:
        raise Problem(
            409, "instance-busy", "Instance busy", f"{error}; retry once that is done"
        ) from None
    except LookupError as error:  # moved or stopped since it was located
        raise Problem(409, "instance-moved", "Instance moved", str(error)) from None
    answer = {"instance": instance, "node": place.node, "restartedAt": restarted_at}
    return JSONResponse(answer, status_code=202)
