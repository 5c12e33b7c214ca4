"""A list of Kubernetes objects as the meta.k8s.io/v1 Table kubectl get prints.

The columns and cells are kube/tables.py's (pure, kubectl's usual columns,
the `-o wide` ones at priority 1); this sets what each row carries as its
`object`, as the request's `includeObject` asks: nothing, the object's
metadata (a PartialObjectMetadata: enough for `--show-labels` and the
NAMESPACE column), or the whole object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ozymandias.kube.tables import table
from ozymandias.kube_api.negotiation import IncludeObject


def row_object(obj: dict[str, Any], include: IncludeObject) -> dict[str, Any] | None:
    if include is IncludeObject.NONE:
        return None
    if include is IncludeObject.OBJECT:
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table_of(
    kind: str, objects: Sequence[dict[str, Any]], include: IncludeObject, resource_version: str
) -> dict[str, Any]:
    """The Table of `objects`, all of `kind` (Pod, ...), labelled with `resource_version`."""
    shown = table(kind, list(objects))
    rows = []
    for row, obj in zip(shown["rows"], objects, strict=True):
        carried = row_object(obj, include)
        rows.append({**row, "object": carried} if carried is not None else _without_object(row))
    return {**shown, "metadata": {"resourceVersion": resource_version}, "rows": rows}


def _without_object(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "object"}
