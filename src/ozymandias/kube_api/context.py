"""What every Kubernetes route shares: the node's services, the namespace, and the answer's shape.

The routers (reads here, writes in writes.py) reach the node's state through
`request.app.state.services`, the same `ApiServices` as the ozy API's, so
both read the same mirrors and call the same JobService: there is one
state, not a copy. A route answers an object or a list; `answer` and
`answer_list` give it in the shape the Accept header asks (the object, or a
meta.k8s.io/v1 Table of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from ozymandias.api.services import ApiServices
from ozymandias.kube.status import KubeError, bad_request, not_acceptable, not_found, status
from ozymandias.kube_api import negotiation
from ozymandias.kube_api.selection import Selection, select
from ozymandias.kube_api.tabulation import table_of

NAMESPACE = "default"
MAX_SELECTOR = 4096

LabelSelector = Annotated[str | None, Query(alias="labelSelector", max_length=MAX_SELECTOR)]
FieldSelector = Annotated[str | None, Query(alias="fieldSelector", max_length=MAX_SELECTOR)]
WatchParam = Annotated[str | None, Query(alias="watch", max_length=8)]
ResourceVersion = Annotated[str | None, Query(alias="resourceVersion", max_length=32)]
IncludeObject = Annotated[str | None, Query(alias="includeObject", max_length=16)]
# Read and ignored: every list is answered whole (a cluster's pods fit one answer).
Limit = Annotated[int | None, Query(alias="limit", ge=0)]
Continue = Annotated[str | None, Query(alias="continue", max_length=1024)]


def check_namespace(namespace: str) -> None:
    """Only `default` exists: any other is a 404, as for a namespace nobody made."""
    if namespace != NAMESPACE:
        raise KubeError(
            status(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        )


def revision(services: ApiServices) -> str:
    """A list's resourceVersion: the etcd revision this node's mirrors have reached."""
    return str(services.mirrors.revision())


def selection(labels: str | None, fields: str | None, kind: str) -> Selection:
    """The selectors of a list request of `kind`; a 400 Status if one does not parse."""
    return select(labels, fields, kind)


def shape(request: Request) -> negotiation.Shape:
    try:
        return negotiation.response_shape(request.headers.get("accept"))
    except negotiation.NotAcceptable:
        raise not_acceptable(negotiation.PRODUCED) from None


def included(value: str | None) -> negotiation.IncludeObject:
    try:
        return negotiation.include_object(value)
    except ValueError as error:
        raise bad_request(str(error)) from None


def answer(request: Request, obj: dict[str, Any], include: str | None = None) -> JSONResponse:
    """One object, or a Table of one row."""
    if shape(request) is negotiation.Shape.TABLE:
        version = str(obj.get("metadata", {}).get("resourceVersion", ""))
        return JSONResponse(table_of(obj["kind"], [obj], included(include), version))
    return JSONResponse(obj)


def answer_list(
    request: Request,
    kind: str,
    api_version: str,
    items: Sequence[dict[str, Any]],
    resource_version: str,
    include: str | None = None,
) -> JSONResponse:
    """A list of `kind` (Pod: a `PodList`), or a Table with a row per item."""
    if shape(request) is negotiation.Shape.TABLE:
        return JSONResponse(table_of(kind, list(items), included(include), resource_version))
    return JSONResponse(
        {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": resource_version},
            "items": list(items),
        }
    )


def found(obj: dict[str, Any] | None, kind: str, name: str) -> dict[str, Any]:
    """`obj`, or the NotFound Status of a `kind` (Pod, ...) named `name`."""
    if obj is None:
        raise not_found(kind, name)
    return obj
