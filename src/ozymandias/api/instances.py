"""/v1/instances: list instances and stream their logs, from whichever node runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ozymandias.api import views
from ozymandias.api.errors import job_not_found
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services
from ozymandias.store.cluster_mirrors import ClusterMirrors

router = APIRouter(tags=["instances"])


@router.get("/v1/instances")
async def list_instances(services: Services, job: str | None = None) -> list[dict[str, Any]]:
    mirrors = services.mirrors
    if job is not None and mirrors.job(job) is None:
        raise job_not_found(job)
    names = [job] if job else [record.spec.name for record in views.sorted_jobs(mirrors)]
    return [item for name in names for item in views.instances_of(name, mirrors)]


@router.get("/v1/instances/{instance}/logs")
async def instance_logs(
    instance: str,
    services: Services,
    container: str | None = None,
    follow: bool = False,
    tail: int | None = None,
) -> StreamingResponse:
    mirrors = services.mirrors
    job_name, index, owner = _locate_instance(instance, mirrors)
    record = mirrors.job(job_name)
    assert record is not None
    container = container or next(iter(record.spec.containers))
    if container not in record.spec.containers:
        raise Problem(
            404,
            "container-not-found",
            "No such container",
            f"job {job_name} has no container {container!r}; "
            f"it has {', '.join(record.spec.containers)}",
        )
    if owner == services.node.name:
        stream = services.agent.logs(job_name, index, container, follow=follow, tail=tail)
    else:
        stream = _proxy_logs(mirrors, owner, instance, container, follow, tail)
    return StreamingResponse(stream, media_type="text/plain")


def _locate_instance(instance: str, mirrors: ClusterMirrors) -> tuple[str, int, str]:
    job_name, _, index_text = instance.rpartition("-")
    schedule = mirrors.schedule(job_name) if index_text.isdigit() else None
    node_name = schedule.placements.get(int(index_text)) if schedule else None
    if schedule is None or node_name is None:
        raise Problem(
            404,
            "instance-not-found",
            "No such instance",
            f"there is no instance {instance!r}; instances are named <job>-<index>, e.g. web-0",
        )
    return job_name, int(index_text), node_name


async def _proxy_logs(
    mirrors: ClusterMirrors,
    owner: str,
    instance: str,
    container: str,
    follow: bool,
    tail: int | None,
) -> AsyncIterator[bytes]:
    """Logs of an instance on another node, fetched from that node's API."""
    peer = next((n for n in mirrors.node_list() if n.name == owner), None)
    if peer is None:
        yield f"node {owner} is not registered; its logs are unavailable\n".encode()
        return
    params: dict[str, Any] = {"container": container, "follow": follow}
    if tail is not None:
        params["tail"] = tail
    async with (
        httpx.AsyncClient(base_url=peer.api_url, timeout=None) as client,
        client.stream("GET", f"/v1/instances/{instance}/logs", params=params) as response,
    ):
        async for chunk in response.aiter_bytes():
            yield chunk
