"""Discovery: /version, /api, /apis and their resource lists, the one namespace, OpenAPI v2.

kubectl reads these before any other call (and caches them under
~/.kube/cache/discovery): which resources exist, their verbs and short
names, and, for apply, diff and validation, the OpenAPI v2 document as
protobuf. The documents are discovery_documents.py's and kube/openapi_v2.py's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services
from ozymandias.kube import openapi_v2
from ozymandias.kube.deployments import timestamp
from ozymandias.kube.status import path_not_found
from ozymandias.kube_api import context
from ozymandias.kube_api import discovery_documents as documents
from ozymandias.kube_api.negotiation import wants_protobuf

router = APIRouter()
READ = [requires(Role.READ)]


async def _version(_: Request) -> Response:
    return JSONResponse(documents.version_info())


async def _healthy(_: Request) -> Response:
    return PlainTextResponse("ok")


# Open (no token), as the apiserver's public-info paths: plain routes, not API operations,
# so they declare no role (see api/auth.py's check) and kube_api/auth.py lets them by.
OPEN_ROUTES = [
    Route("/version", _version, methods=["GET"]),
    *(Route(path, _healthy, methods=["GET"]) for path in ("/healthz", "/livez", "/readyz")),
]


@router.get("/api", dependencies=READ, summary="The core group's versions")
async def api(request: Request) -> dict[str, Any]:
    return documents.api_versions(request.url.netloc)


@router.get("/api/v1", dependencies=READ, summary="The core group's resources")
async def core_v1() -> dict[str, Any]:
    return documents.core_v1_resources()


@router.get("/apis", dependencies=READ, summary="The named API groups")
async def apis() -> dict[str, Any]:
    return documents.api_group_list()


@router.get("/apis/{group}", dependencies=READ, summary="One API group")
async def api_group(group: Annotated[str, Path(max_length=253)]) -> dict[str, Any]:
    found = documents.api_group(group)
    if found is None:
        raise path_not_found()
    return found


@router.get("/apis/apps/v1", dependencies=READ, summary="The apps group's resources")
async def apps_v1() -> dict[str, Any]:
    return documents.apps_v1_resources()


@router.get("/api/v1/namespaces", dependencies=READ, summary="The namespaces: default only")
async def namespaces(services: Services) -> dict[str, Any]:
    return {
        "kind": "NamespaceList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": context.revision(services)},
        "items": [documents.namespace(context.NAMESPACE, _created(services))],
    }


@router.get("/api/v1/namespaces/{namespace}", dependencies=READ, summary="A namespace")
async def namespace(
    namespace: Annotated[str, Path(max_length=63)], services: Services
) -> dict[str, Any]:
    context.check_namespace(namespace)
    return documents.namespace(namespace, _created(services))


def _created(services: Services) -> str:
    return timestamp(services.node.started_at)


@router.get("/openapi/v2", dependencies=READ, summary="The OpenAPI v2 document of the types served")
async def openapi(request: Request) -> Response:
    """Protobuf (gnostic's OpenAPI v2 messages) for kubectl's Accept, else JSON."""
    if wants_protobuf(request.headers.get("accept")):
        return Response(openapi_v2.document(), media_type=openapi_v2.PROTOBUF_CONTENT_TYPE)
    return Response(openapi_v2.document_json_bytes(), media_type="application/json")
