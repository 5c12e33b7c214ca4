"""/v1/volumes: shared and local volumes with their usage, and removing shared ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ozymandias.acl.roles import Role
from ozymandias.api import views
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call, store_unavailable
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services
from ozymandias.cluster.records import describe_storage_domain
from ozymandias.jobs.errors import JobRejected, VolumeNotFound
from ozymandias.store.etcd import StoreUnavailable

router = APIRouter(tags=["volumes"])


@router.get("/v1/volumes", dependencies=[requires(Role.READ)])
async def list_volumes(services: Services) -> list[dict[str, Any]]:
    """Shared volumes (kept ones too) and every node's local volumes, with usage."""
    reports = await store_call(services.store.volume_usage())
    mirrors = services.mirrors
    return views.volumes_view(mirrors.shared_volumes(), reports, mirrors)


@router.delete("/v1/volumes/{job}/{name}", status_code=202, dependencies=[requires(Role.ADMIN)])
async def delete_volume(
    job: str, name: str, response: Response, services: Services, forget: bool = False
) -> dict[str, Any]:
    """Remove a shared volume no job uses; a node in its zone removes the data.

    `forget=true` drops its record at once (200) and frees its space, leaving
    its data on the zone's storage: for a zone no live node reaches any more.
    """
    full_name = f"{job}/{name}"
    try:
        volume = await services.jobs.delete_volume(job, name, forget=forget)
    except VolumeNotFound:
        raise Problem(
            404, "volume-not-found", "No such volume", f"there is no shared volume {full_name}"
        ) from None
    except JobRejected as rejection:
        raise Problem(rejection.status, rejection.kind, rejection.title, rejection.detail) from None
    except StoreUnavailable as error:
        raise store_unavailable(error) from None
    reachable = any(
        node.shared_storage is not None and node.storage_domain == volume.domain
        for node in services.mirrors.node_list()
    )
    if forget:
        response.status_code = 200
    return {
        "name": full_name,
        "deleting": not forget,
        "forgotten": forget,
        "size": volume.size,
        "where": describe_storage_domain(volume.domain),
        "reachable": reachable,
    }
