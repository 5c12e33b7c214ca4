"""PATCH /api/v1/nodes/{name}: `kubectl cordon` and `uncordon`, through `ozy node cordon`'s call.

kubectl sends a strategic merge patch of `spec.unschedulable` (true, or null
to uncordon). Only that field may change: a patch that changes any other is
refused with an Invalid Status naming each field (a label, a taint), since a
node's record is its daemon's to write, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.kube.object_diff import changed_paths, value_at
from ozymandias.kube.status import KubeError, cause, invalid, not_found, status
from ozymandias.kube_api.kinds import NODES
from ozymandias.kube_api.request_body import PATCH_TYPES, patched, read_patch
from ozymandias.kube_api.write_params import DryRun, FieldManager, Name, check_dry_run

router = APIRouter(tags=["kubernetes"])

KIND = "Node"
UNSCHEDULABLE = "spec.unschedulable"

_PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A patch of the Node; only spec.unschedulable may change.",
        "content": {media: {"schema": {}} for media in PATCH_TYPES},
    }
}


@router.patch(
    "/api/v1/nodes/{name}", openapi_extra=_PATCH_BODY, dependencies=[requires(Role.ADMIN)]
)
async def patch_node(
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> dict[str, Any]:
    """Cordon or uncordon a node by patching `spec.unschedulable`."""
    dry = check_dry_run(dry_run)
    patch = read_patch(request.headers.get("content-type"), await request.body())
    live = await _read_node(services, name)
    result = patched(KIND, live, patch)
    changed = changed_paths(live, result)
    if others := [path for path in changed if path != UNSCHEDULABLE]:
        raise invalid(KIND, name, [cause("FieldValueForbidden", path) for path in others])
    unschedulable = value_at(result, UNSCHEDULABLE)
    if unschedulable is not None and not isinstance(unschedulable, bool):
        raise invalid(KIND, name, [cause("FieldValueInvalid", UNSCHEDULABLE, unschedulable)])
    if changed and not dry:
        try:
            await store_call(services.store.set_cordon(name, bool(unschedulable)))
        except Problem as problem:
            raise KubeError(status(problem.status, "ServiceUnavailable", problem.detail)) from None
    return result


async def _read_node(services: ApiServices, name: str) -> dict[str, Any]:
    node = await NODES.one(services, name)
    if node is None:
        raise not_found(KIND, name)
    return node
