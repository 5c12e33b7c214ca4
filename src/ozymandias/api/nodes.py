"""/v1/nodes: list the live nodes, cordon and uncordon them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ozymandias.acl.roles import Role
from ozymandias.api import list_pages, views
from ozymandias.api.auth import requires
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices, Services
from ozymandias.api.watch_stream import LastEventId, Watch
from ozymandias.watch.feeds import NODE

router = APIRouter(tags=["nodes"])


@router.get(
    "/v1/nodes",
    dependencies=[requires(Role.READ)],
    response_model=list[dict[str, Any]],
    responses=list_pages.LIST_RESPONSES,
)
async def list_nodes(
    request: Request,
    response: Response,
    services: Services,
    watch: Watch = False,
    last_event_id: LastEventId = None,
    limit: list_pages.Limit = None,
    continue_: list_pages.Continue = None,
) -> Any:
    if watch:
        return services.watches.open(request, NODE, last_event_id)
    mirrors = services.mirrors
    if list_pages.paged(limit, continue_):
        start = await list_pages.cursor(mirrors.nodes, continue_, list_pages.NODE_KEY)
        entries = list_pages.node_entries(mirrors, start.after if start else None)
        return list_pages.page(response, entries, limit, mirrors.nodes, start)
    allocated, cordoned, draining = mirrors.allocated(), mirrors.cordoned(), mirrors.draining()
    return [
        views.node_view(n, allocated, cordoned, draining)
        for n in sorted(mirrors.node_list(), key=lambda n: n.name)
    ]


@router.post("/v1/nodes/{name}/cordon", dependencies=[requires(Role.ADMIN)])
async def cordon_node(name: str, services: Services) -> dict[str, Any]:
    """Place no new instances on the node; those it runs stay."""
    return await _set_cordon(services, name, True)


@router.post("/v1/nodes/{name}/uncordon", dependencies=[requires(Role.ADMIN)])
async def uncordon_node(name: str, services: Services) -> dict[str, Any]:
    return await _set_cordon(services, name, False)


async def _set_cordon(services: ApiServices, name: str, cordoned: bool) -> dict[str, Any]:
    if name not in {known.name for known in services.mirrors.node_list()}:
        raise Problem(404, "node-not-found", "No such node", f"no live node is named {name!r}")
    await services.store.set_cordon(name, cordoned)
    return {"name": name, "cordoned": cordoned}
