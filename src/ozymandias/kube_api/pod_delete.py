"""DELETE /api/v1/namespaces/default/pods/{name}: a new pod for that instance, as `ozy restart`.

A Deployment's pod that is deleted is replaced by its ReplicaSet; here the
instance keeps its name, and its pod is replaced in place, as `ozy restart
INSTANCE` does (api/instance_restart.py's call, on the node that runs it, or
passed on to it). The answer is the Pod as it was, as the apiserver answers.

`kubectl delete pod` then waits until a GET shows that name gone or with
another uid. A Pod's uid follows its pod (the status' `pod_id`), so the answer
is held until this node's mirror shows the instance on a new pod; within
`_NEW_POD_SECONDS`, else kubectl's own watch waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ozymandias.acl.roles import Role
from ozymandias.agent.node_agent import InstanceBusy
from ozymandias.api.auth import requires
from ozymandias.api.instance_proxy import caller_credential, forward_to_owner, locate_instance
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.kube.status import KubeError, conflict, not_found, status
from ozymandias.kube_api.context import check_namespace
from ozymandias.kube_api.kinds import PODS
from ozymandias.kube_api.write_params import DryRun, Name, Namespace, check_dry_run

router = APIRouter(tags=["kubernetes"])

KIND = "Pod"
_NEW_POD_SECONDS = 30.0


@router.delete("/api/v1/namespaces/{namespace}/pods/{name}", dependencies=[requires(Role.DEPLOY)])
async def delete_pod(
    namespace: Namespace,
    name: Name,
    request: Request,
    services: Services,
    dry_run: DryRun = None,
    grace_period_seconds: Annotated[int | None, Query(alias="gracePeriodSeconds")] = None,
) -> dict[str, Any]:
    """Replace the instance's pod by a new one; the answer is the Pod that was deleted."""
    check_namespace(namespace)
    dry = check_dry_run(dry_run)
    try:
        place = locate_instance(name, services.mirrors)
    except Problem:
        raise not_found(KIND, name) from None
    deleted = await _read_pod(services, name)
    if dry:
        return deleted
    revision = services.mirrors.instances.revision
    if place.node == services.node.name:
        await _restart_here(services, name, place.job, place.index)
    else:
        await _restart_there(services, request, name, place.node)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_NEW_POD_SECONDS):
            await _until_replaced(services, name, deleted["metadata"].get("uid"), revision)
    return deleted


async def _restart_here(services: ApiServices, name: str, job: str, index: int) -> None:
    try:
        await services.agent.restart_instance(job, index)
    except InstanceBusy as error:
        raise conflict(KIND, name, f"{error}; retry once that is done") from None
    except LookupError as error:  # moved or stopped since it was located
        raise conflict(KIND, name, str(error)) from None


async def _restart_there(services: ApiServices, request: Request, name: str, owner: str) -> None:
    """Ask the node that runs the instance, with the caller's own token (instance_proxy.py)."""
    path = f"/v1/instances/{name}/restart"
    try:
        answer = await forward_to_owner(
            services, owner, name, caller_credential(request), "POST", path
        )
    except Problem as problem:
        raise KubeError(status(problem.status, "ServiceUnavailable", problem.detail)) from None
    if isinstance(answer, StreamingResponse):
        # Read to its end, which closes the connection to the owner.
        async for _ in answer.body_iterator:
            pass
        return
    message = bytes(answer.body).decode("utf-8", "replace")
    raise KubeError(status(answer.status_code, "InternalError", f"node {owner}: {message}"))


async def _until_replaced(services: ApiServices, name: str, uid: str | None, after: int) -> None:
    """Return once the Pod `name` is gone or has another uid than `uid`."""
    mirror = services.mirrors.instances
    while True:
        try:
            current = await _read_pod(services, name)
        except KubeError:
            return
        if current["metadata"].get("uid") != uid:
            return
        after = await mirror.wait_for_change(after)


async def _read_pod(services: ApiServices, name: str) -> dict[str, Any]:
    pod = await PODS.one(services, name)
    if pod is None:
        raise not_found(KIND, name)
    return pod
