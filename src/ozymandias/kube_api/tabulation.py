"""A list of Kubernetes objects as the meta.k8s.io/v1 Table kubectl get prints.

The columns, cells and what each row carries (`includeObject`: nothing, the
metadata, or the object) are kube/tables.py's; every column goes out, the
`-o wide` ones at priority 1, and kubectl shows those for `-o wide` only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ozymandias.kube.tables import table
from ozymandias.kube_api.negotiation import IncludeObject


def table_of(
    kind: str, objects: Sequence[dict[str, Any]], include: IncludeObject, resource_version: str
) -> dict[str, Any]:
    """The Table of `objects`, all of `kind` (Pod, ...), labelled with `resource_version`."""
    shown = table(
        kind,
        objects,
        now=time.time(),
        include_object=include.value,
        resource_version=resource_version,
    )
    # An empty list is still labelled: a watch from it starts there.
    return {**shown, "metadata": {"resourceVersion": resource_version}}
