"""metav1 Status objects: how the Kubernetes API says no, worded as the apiserver words them.

kubectl prints a Status' `message` after "Error from server (Reason):", and
reads `details.causes` for `Invalid`, so the texts follow apimachinery's
`errors.New*` builders: `deployments.apps "web" not found`,
`Deployment.apps "web" is invalid: spec.template.spec.hostNetwork: Unsupported value: true`.

Each builder returns a `KubeError`, which the server raises and turns into a
response (`error.status` is the body, `error.code` the HTTP status). A cause is
a plain dict `{"reason", "message", "field"}` (metav1.StatusCause); `cause()`
builds one with the value rendered as Go's field errors render it. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

# The kinds served, as (resource, API group); the group is "" for the core group.
RESOURCES: dict[str, tuple[str, str]] = {
    "Deployment": ("deployments", "apps"),
    "Pod": ("pods", ""),
    "Node": ("nodes", ""),
    "Event": ("events", ""),
    "Namespace": ("namespaces", ""),
    "Scale": ("deployments", "apps"),
}

CauseReason = Literal[
    "FieldValueNotSupported",
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueDuplicate",
    "FieldValueTooLong",
    "FieldValueTypeInvalid",
]

# How field errors name their type in a message (field.ErrorType's String()).
_CAUSE_WORDS: dict[str, str] = {
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueTooLong": "Too long",
    "FieldValueTypeInvalid": "Invalid value",
}
# These types say no value in their message, whatever it was.
_VALUELESS = frozenset({"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong"})


class Cause(TypedDict):
    reason: str
    message: str
    field: str


class KubeError(Exception):
    """A refusal the Kubernetes API answers with a Status body."""

    def __init__(self, status: dict[str, Any]) -> None:
        super().__init__(status["message"])
        self.status = status
        self.code: int = status["code"]
        self.reason: str = status["reason"]


def go_value(value: Any) -> str:
    """`value` as a field error shows it: 3, true, null, "text" (quoted), or JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(_cut(value), ensure_ascii=False)
    return _cut(json.dumps(value, separators=(",", ":"), sort_keys=True, default=str))


_SHOWN_LENGTH = 200


def _cut(text: str) -> str:
    # A refused field may hold a whole pod template: the message names it, not repeats it.
    return text if len(text) <= _SHOWN_LENGTH else f"{text[:_SHOWN_LENGTH]}..."


def cause(reason: CauseReason, field: str, value: Any = None, detail: str = "") -> Cause:
    """A field error: `field`'s `value` and why (`detail`); the message as field.Error's body."""
    words = _CAUSE_WORDS[reason]
    message = words if reason in _VALUELESS else f"{words}: {go_value(value)}"
    if detail:
        message += f": {detail}"
    return {"reason": reason, "message": message, "field": field}


def unsupported(field: str, value: Any, supported: Sequence[str] = ()) -> Cause:
    """A value that has no mapping here (field.NotSupported)."""
    detail = ", ".join(json.dumps(choice) for choice in supported)
    return cause(
        "FieldValueNotSupported", field, value, f"supported values: {detail}" if detail else ""
    )


def qualified_resource(kind: str) -> str:
    """`deployments.apps`, `pods`: a GroupResource's String()."""
    resource, group = RESOURCES[kind]
    return f"{resource}.{group}" if group else resource


def qualified_kind(kind: str) -> str:
    """`Deployment.apps`, `Pod`: a GroupKind's String()."""
    group = RESOURCES[kind][1]
    return f"{kind}.{group}" if group else kind


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A failure Status; empty detail fields are left out, as Go's omitempty does."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    shown = {key: value for key, value in (details or {}).items() if value}
    if shown:
        body["details"] = shown
    return body


def _resource_details(kind: str, name: str) -> dict[str, Any]:
    resource, group = RESOURCES[kind]
    return {"name": name, "group": group, "kind": resource}


def not_found(kind: str, name: str) -> KubeError:
    message = f"{qualified_resource(kind)} {json.dumps(name)} not found"
    return KubeError(status(404, "NotFound", message, _resource_details(kind, name)))


def path_not_found() -> KubeError:
    """A URL that names nothing served (an unknown resource or API group)."""
    return KubeError(status(404, "NotFound", "the server could not find the requested resource"))


def already_exists(kind: str, name: str) -> KubeError:
    message = f"{qualified_resource(kind)} {json.dumps(name)} already exists"
    return KubeError(status(409, "AlreadyExists", message, _resource_details(kind, name)))


def invalid(kind: str, name: str, causes: Sequence[Cause]) -> KubeError:
    """`Deployment.apps "web" is invalid: f: body` (or `[f1: body1, f2: body2]`)."""
    said = list(dict.fromkeys(f"{c['field']}: {c['message']}" for c in causes))
    summary = said[0] if len(said) == 1 else f"[{', '.join(said)}]"
    message = f"{qualified_kind(kind)} {json.dumps(name)} is invalid: {summary}"
    details = {"name": name, "group": RESOURCES[kind][1], "kind": kind, "causes": list(causes)}
    return KubeError(status(422, "Invalid", message, details))


def conflict(kind: str, name: str, detail: str) -> KubeError:
    message = (
        f"Operation cannot be fulfilled on {qualified_resource(kind)} {json.dumps(name)}: {detail}"
    )
    return KubeError(status(409, "Conflict", message, _resource_details(kind, name)))


def forbidden(kind: str, name: str, detail: str) -> KubeError:
    """`deployments.apps "web" is forbidden: <detail>` (without the name when it is "")."""
    quoted = f" {json.dumps(name)}" if name else ""
    message = f"{qualified_resource(kind)}{quoted} is forbidden: {detail}"
    return KubeError(status(403, "Forbidden", message, _resource_details(kind, name)))


def cannot(user: str, verb: str, kind: str, *, subresource: str = "", namespace: str = "") -> str:
    """The authorizer's reason, for `forbidden`: `User "ci" cannot patch resource "deployments"
    in API group "apps" in the namespace "default"` (or `at the cluster scope`)."""
    resource, group = RESOURCES[kind]
    if subresource:
        resource = f"{resource}/{subresource}"
    where = f"in the namespace {json.dumps(namespace)}" if namespace else "at the cluster scope"
    return (
        f"User {json.dumps(user)} cannot {verb} resource {json.dumps(resource)}"
        f" in API group {json.dumps(group)} {where}"
    )


def unauthorized(message: str = "Unauthorized") -> KubeError:
    return KubeError(status(401, "Unauthorized", message))


def method_not_allowed(kind: str, action: str) -> KubeError:
    """`delete is not supported on resources of kind "nodes"`."""
    message = (
        f"{action} is not supported on resources of kind {json.dumps(qualified_resource(kind))}"
    )
    resource, group = RESOURCES[kind]
    return KubeError(status(405, "MethodNotAllowed", message, {"group": group, "kind": resource}))


def bad_request(message: str) -> KubeError:
    return KubeError(status(400, "BadRequest", message))


def unsupported_media_type(accepted: Sequence[str]) -> KubeError:
    message = (
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )
    return KubeError(status(415, "UnsupportedMediaType", message))


def not_acceptable(accepted: Sequence[str]) -> KubeError:
    message = "only the following media types are accepted: " + ", ".join(accepted)
    return KubeError(status(406, "NotAcceptable", message))


def too_large(limit: int) -> KubeError:
    """A body past `limit` bytes (413), as the apiserver words it."""
    return KubeError(
        status(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")
    )


def expired(message: str) -> KubeError:
    """A watch from a resourceVersion older than what is kept (410): the client lists anew."""
    return KubeError(status(410, "Expired", message))
