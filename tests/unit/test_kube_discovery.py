"""The discovery documents kubectl reads first (kube_api/discovery_documents.py)."""

from __future__ import annotations

from typing import Any

from ozymandias import __version__
from ozymandias.kube_api.discovery_documents import (
    api_group,
    api_group_list,
    api_versions,
    apps_v1_resources,
    core_v1_resources,
    namespace,
    version_info,
)


def _by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {resource["name"]: resource for resource in document["resources"]}


def test_the_version_is_a_kubernetes_minor_with_ozys_as_build_metadata() -> None:
    info = version_info()
    assert (info["major"], info["minor"]) == ("1", "32")
    # The gcloud dispatcher runs the kubectl.1.<minor> beside it: the one it ships.
    assert info["gitVersion"] == f"v1.32.0+ozy.{__version__}"


def test_the_core_group_serves_nodes_pods_their_logs_and_events() -> None:
    resources = _by_name(core_v1_resources())
    assert set(resources) == {"namespaces", "nodes", "pods", "pods/log", "events"}
    assert resources["pods"]["shortNames"] == ["po"]
    assert resources["pods"]["categories"] == ["all"]
    assert resources["pods"]["namespaced"] is True
    assert set(resources["pods"]["verbs"]) == {"get", "list", "watch", "delete"}
    assert resources["nodes"]["shortNames"] == ["no"]
    assert resources["nodes"]["namespaced"] is False
    # kubectl cordon patches a node: the verb must be there.
    assert "patch" in resources["nodes"]["verbs"]
    assert resources["events"]["shortNames"] == ["ev"]
    assert resources["pods/log"]["verbs"] == ["get"]


def test_apps_serves_deployments_their_scale_and_status() -> None:
    document = apps_v1_resources()
    assert document["groupVersion"] == "apps/v1"
    resources = _by_name(document)
    deployments = resources["deployments"]
    assert deployments["shortNames"] == ["deploy"]
    assert deployments["kind"] == "Deployment"
    assert {"create", "patch", "update", "delete", "watch"} <= set(deployments["verbs"])
    scale = resources["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_the_groups_and_versions() -> None:
    assert api_versions("127.0.0.1:6443")["versions"] == ["v1"]
    groups = api_group_list()["groups"]
    assert [group["name"] for group in groups] == ["apps"]
    assert groups[0]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    found = api_group("apps")
    assert found is not None and found["kind"] == "APIGroup"
    assert api_group("batch") is None


def test_the_one_namespace() -> None:
    default = namespace("default", "2026-12-07T10:00:00Z")
    assert default["metadata"]["name"] == "default"
    assert default["status"]["phase"] == "Active"
