"""`deployments/{name}/scale` and `deployments/{name}/status`: what kubectl scale and rollout use.

`kubectl scale deployment X --replicas=N` reads the Scale, then writes it
back (a PUT carrying its resourceVersion, or a merge PATCH of spec.replicas,
by kubectl version); either scales the job as `ozy scale` does
(JobService.scale: no new version, within the node's instance limit).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import ApiServices, Services
from ozymandias.kube.object_diff import changed_paths
from ozymandias.kube.scales import scale_of, wanted_replicas
from ozymandias.kube.status import cause, invalid
from ozymandias.kube_api.context import check_namespace
from ozymandias.kube_api.deployment_store import KIND, read_deployment, sent_resource_version
from ozymandias.kube_api.deployments_write import ITEM
from ozymandias.kube_api.job_calls import job_call
from ozymandias.kube_api.request_body import PATCH_TYPES, patched, read_object, read_patch
from ozymandias.kube_api.write_params import DryRun, FieldManager, Name, Namespace, check_dry_run
from ozymandias.spec.loader import check_instances

router = APIRouter(tags=["kubernetes"])

SCALE = ITEM + "/scale"
STATUS = ITEM + "/status"

_SCALE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An autoscaling/v1 Scale (PUT), or a patch of one (PATCH).",
        "content": {media: {"schema": {}} for media in ("application/json", *PATCH_TYPES)},
    }
}


@router.get(SCALE, dependencies=[requires(Role.READ)])
async def get_scale(namespace: Namespace, name: Name, services: Services) -> dict[str, Any]:
    check_namespace(namespace)
    return scale_of(await read_deployment(services, name))


@router.put(SCALE, openapi_extra=_SCALE_BODY, dependencies=[requires(Role.DEPLOY)])
async def replace_scale(
    namespace: Namespace,
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> dict[str, Any]:
    """Set the replicas; a `metadata.resourceVersion` the Deployment is not at is a Conflict."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    scale = read_object(await request.body())
    replicas = wanted_replicas(scale)
    current = scale_of(await read_deployment(services, name))
    sent_resource_version(scale, current, name)
    return await _scale(services, name, replicas, dry)


@router.patch(SCALE, openapi_extra=_SCALE_BODY, dependencies=[requires(Role.DEPLOY)])
async def patch_scale(
    namespace: Namespace,
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> dict[str, Any]:
    """Patch the Scale: only `spec.replicas` may change."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    patch = read_patch(request.headers.get("content-type"), await request.body())
    current = scale_of(await read_deployment(services, name))
    result = patched("Scale", current, patch)
    others = [path for path in changed_paths(current, result) if path != "spec.replicas"]
    if others:
        causes = [cause("FieldValueForbidden", path) for path in others]
        raise invalid("Scale", name, causes)
    return await _scale(services, name, wanted_replicas(result), dry)


@router.get(STATUS, dependencies=[requires(Role.READ)])
async def get_status(namespace: Namespace, name: Name, services: Services) -> dict[str, Any]:
    """The Deployment with its status, as `kubectl rollout status` may read it."""
    check_namespace(namespace)
    return await read_deployment(services, name)


async def _scale(services: ApiServices, name: str, replicas: int, dry_run: bool) -> dict[str, Any]:
    if problem := check_instances(replicas, services.spec_limits):
        raise invalid(
            "Scale",
            name,
            [cause("FieldValueInvalid", "spec.replicas", replicas, str(problem.message))],
        )
    result = await job_call(services.jobs.scale(name, replicas, dry_run=dry_run), KIND, name)
    scale = scale_of(await read_deployment(services, name))
    if dry_run:
        scale["spec"]["replicas"] = result.job.spec.num_instances
    return scale
