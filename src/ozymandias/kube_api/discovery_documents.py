"""The discovery documents kubectl reads before anything else (pure).

kubectl asks `/api` and `/apis` which group versions exist, then
`/api/v1` and `/apis/apps/v1` which resources each serves, with their
verbs, short names (`po`, `no`, `deploy`) and categories (`all`). It reads
them to map `kubectl get po` to a URL, and the verbs to refuse what the
server cannot do. kubectl 1.27+ first asks the aggregated form
(apidiscovery.k8s.io/v2); answered plain `application/json` with these
documents, it falls back to them, as against an older apiserver.
"""

from __future__ import annotations

from typing import Any

from ozymandias import __version__

# The Kubernetes minor whose API this serves. The gcloud kubectl "dispatcher" runs the
# `kubectl.1.<minor>` beside it that matches the server's minor, so the one it ships.
KUBE_MAJOR = "1"
KUBE_MINOR = "32"
READ_VERBS = ["get", "list", "watch"]


def version_info() -> dict[str, Any]:
    """`/version`: a Kubernetes version with ozy's as build metadata (as k3s does)."""
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "gitVersion": f"v{KUBE_MAJOR}.{KUBE_MINOR}.0+ozy.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "ozymandias",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """`/api`: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list() -> dict[str, Any]:
    """`/apis`: the named groups: apps, for Deployments."""
    version = {"groupVersion": "apps/v1", "version": "v1"}
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{"name": "apps", "versions": [version], "preferredVersion": version}],
    }


def api_group(name: str) -> dict[str, Any] | None:
    """`/apis/apps`: one group, or None if it is not served."""
    for group in api_group_list()["groups"]:
        if group["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **group}
    return None


def _resource(
    name: str,
    kind: str,
    verbs: list[str],
    *,
    namespaced: bool = True,
    singular: str = "",
    short: list[str] | None = None,
    categories: list[str] | None = None,
    group: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "name": name,
        "singularName": singular,
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    }
    if group is not None:
        resource["group"] = group
        resource["version"] = version
    if short:
        resource["shortNames"] = short
    if categories:
        resource["categories"] = categories
    return resource


def core_v1_resources() -> dict[str, Any]:
    """`/api/v1`: namespaces (default only), nodes, pods and their logs, events."""
    return {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            _resource(
                "namespaces",
                "Namespace",
                ["get", "list"],
                namespaced=False,
                singular="namespace",
                short=["ns"],
            ),
            _resource(
                "nodes",
                "Node",
                ["get", "list", "patch", "watch"],
                namespaced=False,
                singular="node",
                short=["no"],
            ),
            _resource(
                "pods",
                "Pod",
                ["delete", *READ_VERBS],
                singular="pod",
                short=["po"],
                categories=["all"],
            ),
            _resource("pods/log", "Pod", ["get"]),
            _resource("events", "Event", READ_VERBS, singular="event", short=["ev"]),
        ],
    }


def apps_v1_resources() -> dict[str, Any]:
    """`/apis/apps/v1`: deployments, their scale and status subresources."""
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "apps/v1",
        "resources": [
            _resource(
                "deployments",
                "Deployment",
                ["create", "delete", "get", "list", "patch", "update", "watch"],
                singular="deployment",
                short=["deploy"],
                categories=["all"],
            ),
            _resource(
                "deployments/scale",
                "Scale",
                ["get", "patch", "update"],
                group="autoscaling",
                version="v1",
            ),
            _resource("deployments/status", "Deployment", ["get", "patch", "update"]),
        ],
    }


def namespace(name: str, created: str) -> dict[str, Any]:
    """The one namespace, `default`."""
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": created, "uid": f"ozy-namespace-{name}"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
