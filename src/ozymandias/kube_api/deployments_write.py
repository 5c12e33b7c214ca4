"""Create, patch, replace and delete Deployments: `kubectl apply`, `diff`, `edit`, `delete`.

- POST creates (AlreadyExists if the job exists), answering 201 and the
  Deployment as read back.
- PATCH applies a strategic merge, merge or JSON patch to the Deployment as
  served, then submits the result; `kubectl apply` sends a strategic merge
  carrying `kubectl.kubernetes.io/last-applied-configuration`, which lives in
  the job spec's annotations, so a field removed from the file is removed
  from the job.
- PUT replaces; a `metadata.resourceVersion` that is not the job's (its
  modify index) is a Conflict, since the commit is made only at that index.
- `dryRun=All` validates and plans, writes nothing, and answers the object
  as it would be: `kubectl diff` compares it with the live one.
- DELETE deletes the job, as `ozy delete job` does, and answers a Success
  Status carrying the uid kubectl then waits to see gone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services
from ozymandias.kube.status import (
    KubeError,
    already_exists,
    bad_request,
    cause,
    invalid,
    unsupported,
)
from ozymandias.kube_api.context import check_namespace
from ozymandias.kube_api.deployment_store import (
    KIND,
    read_deployment,
    sent_resource_version,
    write_deployment,
)
from ozymandias.kube_api.job_calls import job_call
from ozymandias.kube_api.request_body import PATCH_TYPES, patched, read_object, read_patch
from ozymandias.kube_api.write_params import DryRun, FieldManager, Name, Namespace, check_dry_run

router = APIRouter(tags=["kubernetes"])

COLLECTION = "/apis/apps/v1/namespaces/{namespace}/deployments"
ITEM = COLLECTION + "/{name}"
# A PATCH retries on a lost race: it patched the object as read, which another write changed.
_PATCH_ATTEMPTS = 3

_OBJECT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An apps/v1 Deployment, as JSON.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_PATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A patch of the Deployment, of the type its Content-Type names.",
        "content": {media: {"schema": {}} for media in PATCH_TYPES},
    }
}


@router.post(COLLECTION, openapi_extra=_OBJECT_BODY, dependencies=[requires(Role.DEPLOY)])
async def create_deployment(
    namespace: Namespace,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> JSONResponse:
    """Create a Deployment (a job); AlreadyExists if there is one of its name."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    deployment = _checked_object(read_object(await request.body()), None)
    name = deployment["metadata"]["name"]
    if services.mirrors.job(name) is not None:
        raise already_exists(KIND, name)
    try:
        _, written = await write_deployment(services, name, deployment, dry_run=dry, check_index=0)
    except KubeError as error:
        # Created meanwhile by another client: the commit at index 0 lost.
        if error.reason == "Conflict":
            raise already_exists(KIND, name) from None
        raise
    return JSONResponse(written, status_code=201)


@router.put(ITEM, openapi_extra=_OBJECT_BODY, dependencies=[requires(Role.DEPLOY)])
async def replace_deployment(
    namespace: Namespace,
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> dict[str, Any]:
    """Replace a Deployment; a `metadata.resourceVersion` it was not at is a Conflict."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    deployment = _checked_object(read_object(await request.body()), name)
    live = await read_deployment(services, name)
    version = sent_resource_version(deployment, live, name)
    check_index = int(version) if version.isdigit() else None
    _, written = await write_deployment(
        services, name, deployment, dry_run=dry, check_index=check_index
    )
    return written


@router.patch(ITEM, openapi_extra=_PATCH_BODY, dependencies=[requires(Role.DEPLOY)])
async def patch_deployment(
    namespace: Namespace,
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    field_manager: FieldManager = None,
) -> dict[str, Any]:
    """Patch a Deployment (strategic merge, merge or JSON patch), then submit the result."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    patch = read_patch(request.headers.get("content-type"), await request.body())
    attempts = 0
    while True:
        live = await read_deployment(services, name)
        version = int(live["metadata"]["resourceVersion"])
        deployment = _checked_object(patched(KIND, live, patch), name)
        try:
            _, written = await write_deployment(
                services, name, deployment, dry_run=dry, check_index=version
            )
        except KubeError as error:
            attempts += 1
            if error.reason != "Conflict" or attempts == _PATCH_ATTEMPTS:
                raise
            continue
        return written


@router.delete(ITEM, dependencies=[requires(Role.DEPLOY)])
async def delete_deployment(
    namespace: Namespace,
    name: Name,
    services: Services,
    dry_run: DryRun = None,
    propagation_policy: Annotated[
        str | None, Query(alias="propagationPolicy", max_length=16)
    ] = None,
    grace_period_seconds: Annotated[int | None, Query(alias="gracePeriodSeconds")] = None,
) -> dict[str, Any]:
    """Delete a Deployment's job (its shared volumes are kept, as `ozy delete job`); the
    instances stop whatever the propagation policy says, as with Background."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    live = await read_deployment(services, name)
    if not dry:
        await job_call(services.jobs.delete(name), KIND, name)
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": name,
            "group": "apps",
            "kind": "deployments",
            "uid": live["metadata"].get("uid", ""),
        },
    }


def _checked_object(deployment: dict[str, Any], name: str | None) -> dict[str, Any]:
    """`deployment` if it is a Deployment named `name` (any name when None) in `default`."""
    metadata = deployment.get("metadata")
    named = metadata.get("name") if isinstance(metadata, dict) else None
    label = name or (named if isinstance(named, str) else "")
    if deployment.get("kind", KIND) != KIND or deployment.get("apiVersion", "apps/v1") != "apps/v1":
        given = f"{deployment.get('apiVersion')}/{deployment.get('kind')}"
        raise bad_request(f"the body must be an apps/v1 Deployment, not {given}")
    if not isinstance(named, str) or not named:
        raise invalid(KIND, label, [cause("FieldValueRequired", "metadata.name")])
    if name is not None and named != name:
        raise invalid(KIND, name, [unsupported("metadata.name", named, [name])])
    given_namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if given_namespace not in (None, "", "default"):
        raise bad_request(
            f"the namespace of the provided object ({given_namespace}) does not match the"
            " namespace sent on the request (default)"
        )
    return deployment
