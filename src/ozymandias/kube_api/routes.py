"""The read routes of every kind served: GET a list (or watch it) and GET one object.

Pods, deployments and events are namespaced (`default` only; a list across
namespaces is the same list); nodes are not. Every route needs a token of
role read, as the ozy API's GETs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services
from ozymandias.kube_api import context, kinds
from ozymandias.kube_api.kinds import Served
from ozymandias.kube_api.listing import get_list, get_one

router = APIRouter()

Name = Annotated[str, Path(max_length=253)]
Namespace = Annotated[str, Path(max_length=63)]
TimeoutSeconds = Annotated[int | None, Query(alias="timeoutSeconds", ge=0)]

READ = [requires(Role.READ)]


async def _list(
    served: Served,
    request: Request,
    services: Services,
    label_selector: context.LabelSelector,
    field_selector: context.FieldSelector,
    watch: context.WatchParam,
    resource_version: context.ResourceVersion,
    timeout_seconds: TimeoutSeconds,
    include_object: context.IncludeObject,
) -> Response:
    return await get_list(
        request,
        services,
        served,
        label_selector=label_selector,
        field_selector=field_selector,
        watch=watch,
        resource_version=resource_version,
        timeout_seconds=timeout_seconds,
        include_object=include_object,
    )


def _declare(served: Served, collection: str, namespaced: bool) -> None:
    """GET `collection` (and, namespaced, across namespaces) and `collection/{name}`."""

    async def list_all(
        request: Request,
        services: Services,
        label_selector: context.LabelSelector = None,
        field_selector: context.FieldSelector = None,
        watch: context.WatchParam = None,
        resource_version: context.ResourceVersion = None,
        timeout_seconds: TimeoutSeconds = None,
        include_object: context.IncludeObject = None,
        limit: context.Limit = None,
        continue_: context.Continue = None,
    ) -> Response:
        return await _list(
            served,
            request,
            services,
            label_selector,
            field_selector,
            watch,
            resource_version,
            timeout_seconds,
            include_object,
        )

    async def list_in(
        namespace: Namespace,
        request: Request,
        services: Services,
        label_selector: context.LabelSelector = None,
        field_selector: context.FieldSelector = None,
        watch: context.WatchParam = None,
        resource_version: context.ResourceVersion = None,
        timeout_seconds: TimeoutSeconds = None,
        include_object: context.IncludeObject = None,
        limit: context.Limit = None,
        continue_: context.Continue = None,
    ) -> Response:
        context.check_namespace(namespace)
        return await _list(
            served,
            request,
            services,
            label_selector,
            field_selector,
            watch,
            resource_version,
            timeout_seconds,
            include_object,
        )

    async def get_named(
        name: Name,
        request: Request,
        services: Services,
        include_object: context.IncludeObject = None,
    ) -> Response:
        return await get_one(request, services, served, name, include_object)

    async def get_named_in(
        namespace: Namespace,
        name: Name,
        request: Request,
        services: Services,
        include_object: context.IncludeObject = None,
    ) -> Response:
        context.check_namespace(namespace)
        return await get_one(request, services, served, name, include_object)

    group = f"/apis/{served.api_version}" if "/" in served.api_version else "/api/v1"
    plural = collection
    summary = f"{served.kind}s"
    if namespaced:
        router.add_api_route(
            f"{group}/{plural}",
            list_all,
            methods=["GET"],
            dependencies=READ,
            summary=f"List or watch {summary} (every namespace: default)",
        )
        router.add_api_route(
            f"{group}/namespaces/{{namespace}}/{plural}",
            list_in,
            methods=["GET"],
            dependencies=READ,
            summary=f"List or watch {summary}",
        )
        router.add_api_route(
            f"{group}/namespaces/{{namespace}}/{plural}/{{name}}",
            get_named_in,
            methods=["GET"],
            dependencies=READ,
            summary=f"Read a {served.kind}",
        )
    else:
        router.add_api_route(
            f"{group}/{plural}",
            list_all,
            methods=["GET"],
            dependencies=READ,
            summary=f"List or watch {summary}",
        )
        router.add_api_route(
            f"{group}/{plural}/{{name}}",
            get_named,
            methods=["GET"],
            dependencies=READ,
            summary=f"Read a {served.kind}",
        )


_declare(kinds.NODES, "nodes", namespaced=False)
_declare(kinds.PODS, "pods", namespaced=True)
_declare(kinds.DEPLOYMENTS, "deployments", namespaced=True)
_declare(kinds.EVENTS, "events", namespaced=True)
