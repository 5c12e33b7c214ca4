"""The paths and operations of the OpenAPI v2 document: what the kube API serves.

Operation ids, actions, parameters and group-version-kinds follow the real
apiserver's document, because kubectl looks them up: `kubectl diff` (1.20)
checks that the PATCH of a kind has a `dryRun` parameter, and apply checks for
`fieldValidation` to decide between server-side and client-side validation.
Only verbs the kube API answers are listed; kubectl takes the first PATCH
operation carrying a kind's group-version-kind, so each kind has exactly one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ozymandias.kube.openapi_definitions import full_name
from ozymandias.kube.openapi_types import Gvk

JSON_YAML = ["application/json", "application/yaml"]
PATCH_TYPES = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
]
_OPERATION_VERBS = {
    "get": "read", "list": "list", "post": "create", "put": "replace", "patch": "patch",
    "delete": "delete",
}
_HTTP_METHODS = {"list": "get", "get": "get", "post": "post", "put": "put", "patch": "patch",
                 "delete": "delete"}

_CODE_DESCRIPTIONS = {"200": "OK", "201": "Created", "202": "Accepted"}
_LIST_PARAMETERS = (
    ("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events in a watch."),
    ("continue", "string", "Continue a paged list from this token."),
    ("fieldSelector", "string", "Keep the objects whose fields match, e.g. metadata.name=web."),
    ("labelSelector", "string", "Keep the objects whose labels match, e.g. app=web."),
    ("limit", "integer", "Return at most this many objects."),
    ("resourceVersion", "string", "List or watch from this resourceVersion (an etcd revision)."),
    ("resourceVersionMatch", "string", "How resourceVersion applies to a list."),
    ("timeoutSeconds", "integer", "End a watch after this many seconds."),
    ("watch", "boolean", "Watch for changes: a stream of ADDED, MODIFIED and DELETED events."),
)
_WRITE_PARAMETERS = (
    ("dryRun", "string", "All: check and answer, but store nothing."),
    ("fieldManager", "string", "The name of the actor making the change."),
    ("fieldValidation", "string", "Ignore, Warn or Strict: what to do with unknown fields."),
)
_DELETE_PARAMETERS = (
    ("dryRun", "string", "All: check and answer, but delete nothing."),
    ("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
    ("propagationPolicy", "string", "Orphan, Background or Foreground."),
)
_LOG_PARAMETERS = (
    ("container", "string", "The container to read; optional when the pod has one."),
    ("follow", "boolean", "Keep the stream open and send new lines."),
    ("tailLines", "integer", "Start this many lines before the end."),
)


class Resource(NamedTuple):
    """A served resource: its collection and item paths, and their verbs."""

    gvk: Gvk
    definition: str
    plural: str
    namespaced: bool
    collection_verbs: tuple[str, ...]
    item_verbs: tuple[str, ...]


class Subresource(NamedTuple):
    """A path under an item (`scale`, `status`, `log`) with its own kind."""

    parent: Resource
    name: str
    gvk: Gvk
    definition: str | None
    verbs: tuple[str, ...]
    parameters: tuple[tuple[str, str, str], ...] = ()
    produces: tuple[str, ...] = tuple(JSON_YAML)


def _ref(definition: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{full_name(definition)}"}


def _query(parameters: tuple[tuple[str, str, str], ...]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "type": kind, "description": description}
        for name, kind, description in parameters
    ]


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "type": "string",
            "description": description}


def _group_version(gvk: Gvk) -> str:
    group = gvk.group.capitalize() if gvk.group else "Core"
    return f"{group}{gvk.version.capitalize()}"


def _base_path(gvk: Gvk) -> str:
    return f"/apis/{gvk.group}/{gvk.version}" if gvk.group else f"/api/{gvk.version}"


def _responses(verb: str, schema: dict[str, Any]) -> dict[str, Any]:
    codes = {"post": ("200", "201", "202"), "put": ("200", "201"), "patch": ("200", "201"),
             "delete": ("200", "202")}.get(verb, ("200",))
    responses: dict[str, Any] = {
        code: {"description": _CODE_DESCRIPTIONS[code], "schema": schema} for code in codes
    }
    responses["401"] = {"description": "Unauthorized"}
    return responses


def _operation(
    resource: Resource, verb: str, gvk: Gvk, body: str | None, subresource: str = ""
) -> dict[str, Any]:
    scope = "Namespaced" if resource.namespaced else ""
    suffix = subresource.capitalize()
    parameters: list[dict[str, Any]] = []
    produces = list(JSON_YAML)
    returned = _ref(body) if body else {"type": "string"}
    if verb == "list":
        parameters = _query(_LIST_PARAMETERS)
        produces = [*JSON_YAML, "application/json;stream=watch"]
        returned = _ref(f"{resource.definition}List")
    elif verb in ("post", "put", "patch"):
        payload = "Patch" if verb == "patch" else body or ""
        parameters = [{"name": "body", "in": "body", "required": True, "schema": _ref(payload)},
                      *_query(_WRITE_PARAMETERS)]
    elif verb == "delete":
        parameters = [{"name": "body", "in": "body", "schema": _ref("DeleteOptions")},
                      *_query(_DELETE_PARAMETERS)]
        returned = _ref("Status")
    operation: dict[str, Any] = {
        "description": f"{_OPERATION_VERBS[verb]} the {resource.gvk.kind} {subresource}".strip(),
        "operationId": f"{_OPERATION_VERBS[verb]}{_group_version(resource.gvk)}{scope}"
                       f"{resource.gvk.kind}{suffix}",
        "tags": [f"{resource.gvk.group or 'core'}_{resource.gvk.version}"],
        "produces": produces,
        "parameters": parameters,
        "responses": _responses(verb, returned),
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": gvk._asdict(),
    }
    if verb == "patch":
        operation["consumes"] = list(PATCH_TYPES)
    elif verb in ("post", "put"):
        operation["consumes"] = ["*/*"]
    if not parameters:
        del operation["parameters"]
    return operation


def _collection_path(resource: Resource) -> str:
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    return f"{_base_path(resource.gvk)}{scope}/{resource.plural}"


def _path_parameters(resource: Resource, item: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    if item:
        parameters.append(_path_parameter("name", f"The name of the {resource.gvk.kind}."))
    if resource.namespaced:
        parameters.append(_path_parameter("namespace", "The namespace; only default exists."))
    return parameters


def _with_parameters(
    operations: dict[str, Any], parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    return {**operations, "parameters": parameters} if parameters else operations


def resource_paths(resource: Resource) -> dict[str, dict[str, Any]]:
    """The collection and item paths of one resource."""
    paths: dict[str, dict[str, Any]] = {}
    collection = _collection_path(resource)
    for path, verbs, item in ((collection, resource.collection_verbs, False),
                              (f"{collection}/{{name}}", resource.item_verbs, True)):
        if not verbs:
            continue
        item_ops = {
            _HTTP_METHODS[verb]: _operation(resource, verb, resource.gvk, resource.definition)
            for verb in verbs
        }
        paths[path] = _with_parameters(item_ops, _path_parameters(resource, item))
    if resource.namespaced and "list" in resource.collection_verbs:
        # Every namespace (kubectl get -A); there is only default, but kubectl asks.
        cluster_wide = resource._replace(namespaced=False)
        listing = _operation(cluster_wide, "list", resource.gvk, resource.definition)
        listing["operationId"] += "ForAllNamespaces"
        paths[_collection_path(cluster_wide)] = {"get": listing}
    return paths


def subresource_paths(sub: Subresource) -> dict[str, dict[str, Any]]:
    """The path of one subresource."""
    path = f"{_collection_path(sub.parent)}/{{name}}/{sub.name}"
    item: dict[str, Any] = {}
    for verb in sub.verbs:
        operation = _operation(sub.parent, verb, sub.gvk, sub.definition, sub.name)
        if sub.parameters:
            operation["parameters"] = [*operation.get("parameters", []), *_query(sub.parameters)]
        operation["produces"] = list(sub.produces)
        item[_HTTP_METHODS[verb]] = operation
    return {path: _with_parameters(item, _path_parameters(sub.parent, True))}


DEPLOYMENTS = Resource(Gvk("apps", "v1", "Deployment"), "Deployment", "deployments", True,
                       ("list", "post"), ("get", "put", "patch", "delete"))
PODS = Resource(Gvk("", "v1", "Pod"), "Pod", "pods", True, ("list",), ("get", "delete"))
NODES = Resource(Gvk("", "v1", "Node"), "Node", "nodes", False, ("list",), ("get", "patch"))
EVENTS = Resource(Gvk("", "v1", "Event"), "Event", "events", True, ("list",), ("get",))
NAMESPACES = Resource(Gvk("", "v1", "Namespace"), "Namespace", "namespaces", False, ("list",),
                      ("get",))

SUBRESOURCES = (
    Subresource(DEPLOYMENTS, "scale", Gvk("autoscaling", "v1", "Scale"), "Scale",
                ("get", "put", "patch")),
    Subresource(DEPLOYMENTS, "status", DEPLOYMENTS.gvk, "Deployment", ("get",)),
    Subresource(PODS, "log", PODS.gvk, None, ("get",), _LOG_PARAMETERS, ("text/plain",)),
)


def paths() -> dict[str, dict[str, Any]]:
    """Every served path, sorted as the apiserver sorts them."""
    found: dict[str, dict[str, Any]] = {}
    for resource in (NAMESPACES, NODES, PODS, EVENTS, DEPLOYMENTS):
        found.update(resource_paths(resource))
    for sub in SUBRESOURCES:
        found.update(subresource_paths(sub))
    return dict(sorted(found.items()))
