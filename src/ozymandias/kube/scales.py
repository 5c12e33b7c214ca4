"""A Deployment's `scale` subresource: the autoscaling/v1 Scale kubectl scale reads and writes.

Made from the Deployment as served (pure), so its replicas, resourceVersion
and uid always agree with it. `status.selector` is the Deployment's selector
as a string (`app=nginx,tier in (web)`), as the apiserver gives it.
"""

from __future__ import annotations

from typing import Any

from ozymandias.kube.status import bad_request

_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def scale_of(deployment: dict[str, Any]) -> dict[str, Any]:
    """The Scale of `deployment`."""
    metadata = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {key: metadata[key] for key in _METADATA if key in metadata},
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {
            "replicas": status.get("replicas", 0),
            "selector": selector_string(spec.get("selector") or {}),
        },
    }


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector (`matchLabels`, `matchExpressions`) in the string form `-l` takes."""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def wanted_replicas(scale: Any) -> int:
    """The `spec.replicas` a Scale written by a client asks for; a BadRequest if it has none."""
    spec = scale.get("spec") if isinstance(scale, dict) else None
    replicas = spec.get("replicas", 0) if isinstance(spec, dict) else None
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise bad_request(f"spec.replicas must be a whole number of 0 or more, not {replicas!r}")
    return replicas
