"""An OpenAPI v2 (Swagger) dict as gnostic's `openapi.v2.Document` message.

What gnostic's compiler does when the apiserver turns its Swagger JSON into
protobuf, for the keywords our document uses: vendor extensions (`x-...`)
become `NamedAny` pairs whose value is the YAML text of the JSON value (kubectl
reads `x-kubernetes-group-version-kind` back with a YAML parser), `$ref`
becomes `_ref`, parameters and responses are wrapped in their oneof messages.
A keyword without a mapping raises, so nothing is dropped silently.
"""

from __future__ import annotations

from typing import Any

import yaml

from ozymandias.kube import gnostic

_SCHEMA_SCALARS = {"$ref": "_ref", "format": "format", "description": "description",
                   "required": "required"}
_BODY_SCALARS = ("name", "in", "description", "required")
_PARAMETER_SCALARS = ("name", "in", "description", "required", "type")
_OPERATION_SCALARS = {"tags": "tags", "description": "description", "operationId": "operation_id",
                      "produces": "produces", "consumes": "consumes"}
_METHODS = ("get", "put", "post", "delete", "patch")
_PARAMETER_KINDS = {"query": "query_parameter_sub_schema", "path": "path_parameter_sub_schema"}


def extension_yaml(value: Any) -> str:
    """The YAML text of an extension's value, as gnostic stores it in `Any.yaml`."""
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=True)
    # PyYAML ends a bare scalar with an explicit document end; Go's marshaller does not.
    return text.removesuffix("...\n")


def _unknown(where: str, keys: set[str]) -> ValueError:
    return ValueError(f"{where}: no gnostic mapping for {sorted(keys)}")


def _extensions(source: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": key, "value": {"yaml": extension_yaml(value)}}
        for key, value in source.items()
        if key.startswith("x-")
    ]


def schema(source: dict[str, Any]) -> dict[str, Any]:
    """A Schema message's fields from a JSON schema."""
    fields: dict[str, Any] = {}
    for key, value in source.items():
        if key in _SCHEMA_SCALARS:
            fields[_SCHEMA_SCALARS[key]] = value
        elif key == "type":
            fields["type"] = {"value": [value]}
        elif key == "items":
            fields["items"] = {"schema": [schema(value)]}
        elif key == "properties":
            fields["properties"] = {"additional_properties": [
                {"name": name, "value": schema(sub)} for name, sub in value.items()
            ]}
        elif key == "additionalProperties":
            fields["additional_properties"] = (
                {"boolean": value} if isinstance(value, bool) else {"schema": schema(value)}
            )
        elif not key.startswith("x-"):
            raise _unknown("schema", {key})
    extensions = _extensions(source)
    if extensions:
        fields["vendor_extension"] = extensions
    return fields


def _parameter(source: dict[str, Any]) -> dict[str, Any]:
    if source["in"] == "body":
        body: dict[str, Any] = {key: source[key] for key in _BODY_SCALARS if key in source}
        body["schema"] = schema(source["schema"])
        unknown = set(source) - {*body, "schema"}
        if unknown:
            raise _unknown("body parameter", unknown)
        return {"parameter": {"body_parameter": body}}
    unknown = set(source) - set(_PARAMETER_SCALARS)
    if unknown or source["in"] not in _PARAMETER_KINDS:
        raise _unknown(f"{source['in']} parameter", unknown or {source["in"]})
    sub = {key: source[key] for key in _PARAMETER_SCALARS if key in source}
    return {"parameter": {"non_body_parameter": {_PARAMETER_KINDS[source["in"]]: sub}}}


def _response(source: dict[str, Any]) -> dict[str, Any]:
    unknown = set(source) - {"description", "schema"}
    if unknown:
        raise _unknown("response", unknown)
    response: dict[str, Any] = {"description": source["description"]}
    if "schema" in source:
        response["schema"] = {"schema": schema(source["schema"])}
    return {"response": response}


def _operation(source: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in source.items():
        if key in _OPERATION_SCALARS:
            fields[_OPERATION_SCALARS[key]] = value
        elif key == "parameters":
            fields["parameters"] = [_parameter(parameter) for parameter in value]
        elif key == "responses":
            fields["responses"] = {"response_code": [
                {"name": code, "value": _response(response)} for code, response in value.items()
            ]}
        elif not key.startswith("x-"):
            raise _unknown("operation", {key})
    fields["vendor_extension"] = _extensions(source)
    return fields


def _path_item(source: dict[str, Any]) -> dict[str, Any]:
    unknown = set(source) - {*_METHODS, "parameters"}
    if unknown:
        raise _unknown("path item", unknown)
    fields: dict[str, Any] = {
        method: _operation(source[method]) for method in _METHODS if method in source
    }
    if "parameters" in source:
        fields["parameters"] = [_parameter(parameter) for parameter in source["parameters"]]
    return fields


def document_fields(source: dict[str, Any]) -> dict[str, Any]:
    """The fields of a gnostic Document, by proto field name, from a Swagger dict."""
    unknown = set(source) - {"swagger", "info", "paths", "definitions"}
    if unknown:
        raise _unknown("document", unknown)
    return {
        "swagger": source["swagger"],
        "info": {"title": source["info"]["title"], "version": source["info"]["version"]},
        "paths": {"path": [
            {"name": path, "value": _path_item(item)} for path, item in source["paths"].items()
        ]},
        "definitions": {"additional_properties": [
            {"name": name, "value": schema(definition)}
            for name, definition in source["definitions"].items()
        ]},
    }


def to_protobuf(source: dict[str, Any]) -> bytes:
    """The serialized gnostic Document of a Swagger dict."""
    message = gnostic.build("Document", document_fields(source))
    serialized: bytes = message.SerializeToString(deterministic=True)
    return serialized
