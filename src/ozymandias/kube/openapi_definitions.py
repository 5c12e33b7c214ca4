"""The `definitions` of the OpenAPI v2 document, built from kube/openapi_types.py.

Objects with properties get no `"type": "object"`: kubectl 1.20's reader
(kube-openapi's util/proto) takes a typed object for a map and then insists on
`additionalProperties`; without a type, a schema with properties is a kind for
every kubectl version. Maps are `type: object` with `additionalProperties`.
"""

from __future__ import annotations

from typing import Any

from ozymandias.kube.openapi_types import FREE_FORM, GROUPS, SCALARS, TYPES, Def

_PRIMITIVES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "number": {"type": "number", "format": "double"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
}


def full_name(short: str) -> str:
    """io.k8s.api.apps.v1.Deployment for Deployment."""
    if short in TYPES:
        group = TYPES[short].group
    elif short in SCALARS:
        group = SCALARS[short].group
    elif short in FREE_FORM:
        group = FREE_FORM[short][0]
    else:
        raise KeyError(f"no definition named {short}")
    return f"{GROUPS[group]}.{short}"


def _type_schema(spec: str) -> dict[str, Any]:
    if spec.startswith("[") and spec.endswith("]"):
        return {"type": "array", "items": _type_schema(spec[1:-1])}
    if spec.startswith("{") and spec.endswith("}"):
        return {"type": "object", "additionalProperties": _type_schema(spec[1:-1])}
    if spec in _PRIMITIVES:
        return dict(_PRIMITIVES[spec])
    return {"$ref": f"#/definitions/{full_name(spec)}"}


def property_schema(spec: str) -> dict[str, Any]:
    """The schema of one property written as in openapi_types (type, then patch)."""
    type_spec, _, patch = spec.partition(" ")
    schema = _type_schema(type_spec)
    if patch:
        strategy, _, merge_key = patch.partition(":")
        if merge_key:
            schema["x-kubernetes-patch-merge-key"] = merge_key
        schema["x-kubernetes-patch-strategy"] = strategy
    return schema


def _definition(entry: Def) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if entry.description:
        schema["description"] = entry.description
    schema["properties"] = {name: property_schema(spec) for name, spec in entry.properties.items()}
    if entry.required:
        unknown = set(entry.required) - set(entry.properties)
        if unknown:
            raise ValueError(f"required fields not among the properties: {sorted(unknown)}")
        schema["required"] = list(entry.required)
    if entry.gvk is not None:
        schema["x-kubernetes-group-version-kind"] = [entry.gvk._asdict()]
    return schema


def definitions() -> dict[str, dict[str, Any]]:
    """Every definition, by full name, sorted."""
    found: dict[str, dict[str, Any]] = {}
    for short, entry in TYPES.items():
        found[full_name(short)] = _definition(entry)
    for short, scalar in SCALARS.items():
        schema = {"description": scalar.description, "type": "string"}
        if scalar.format:
            schema["format"] = scalar.format
        found[full_name(short)] = schema
    for short, (_, description) in FREE_FORM.items():
        found[full_name(short)] = {"description": description}
    return dict(sorted(found.items()))
