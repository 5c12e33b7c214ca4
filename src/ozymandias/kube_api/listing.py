"""GET of a list, one object, or a watch: the same for every kind served.

Each kind (kinds.py) says how its Kubernetes objects are built from the
mirrors; a router declares its paths and hands the request here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from ozymandias.api.services import ApiServices
from ozymandias.kube_api import context
from ozymandias.kube_api.kinds import Served
from ozymandias.kube_api.negotiation import Shape, is_watch
from ozymandias.kube_api.watch import WatchRequest, open_watch, snapshot


async def get_list(
    request: Request,
    services: ApiServices,
    served: Served,
    *,
    label_selector: str | None,
    field_selector: str | None,
    watch: str | None,
    resource_version: str | None,
    timeout_seconds: int | None,
    include_object: str | None,
) -> Response:
    """The list of `served`'s objects the selectors select, as a list or a Table; with
    `watch`, the stream of their changes."""
    selection = context.selection(label_selector, field_selector, served.kind)
    shape = context.shape(request)
    include = context.included(include_object) if shape is Shape.TABLE else None
    if is_watch(watch):
        wanted = WatchRequest(selection, resource_version, timeout_seconds, include)
        mirrors = services.mirrors
        return open_watch(
            request,
            services,
            served.hub,
            lambda change: served.build(mirrors, change),
            wanted,
            served.feed,
        )
    revision, changes = await snapshot(services, served.hub, served.feed)
    mirrors = services.mirrors
    items = selection.of(obj for change in changes if (obj := served.build(mirrors, change)))
    return context.answer_list(
        request, served.kind, served.api_version, items, str(revision), include_object
    )


async def get_one(
    request: Request, services: ApiServices, served: Served, name: str, include: str | None
) -> Response:
    obj: dict[str, Any] = context.found(await served.one(services, name), served.kind, name)
    return context.answer(request, obj, include)
