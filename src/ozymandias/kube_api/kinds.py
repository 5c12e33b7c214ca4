"""The kinds the Kubernetes API serves, each built from the mirrors by kube/'s converters.

Every kind follows one of the node's watch hubs (watch/feeds.py): pods the
instances', deployments the jobs', nodes and events their own. A hub's
change names the object that changed; `build` makes its Kubernetes object
from the mirrors as they are. A list is the hub's snapshot, built the same
way, so a list and the watch after it agree on names and revisions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ozymandias.api import views
from ozymandias.api.instance_proxy import locate_instance
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices
from ozymandias.cluster.records import Event
from ozymandias.kube_api import convert
from ozymandias.kube_api.watch import snapshot
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.watch.changes import Change, ChangeType
from ozymandias.watch.feeds import EVENT, INSTANCE, JOB, NODE

Build = Callable[[ClusterMirrors, Change], dict[str, Any] | None]


def timestamp(unix: float) -> str:
    """RFC 3339 to the second, in UTC, as Kubernetes' metav1.Time."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Served:
    kind: str
    api_version: str
    hub: str
    build: Build
    one: Callable[[ApiServices, str], Awaitable[dict[str, Any] | None]]


def _pod(mirrors: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    view = change.object
    record = mirrors.job(view["job"])
    if record is None:
        return None
    status = mirrors.instance_status(view["job"], view["index"])
    node = mirrors.node(view["node"]) if view["node"] else None
    return convert.pod(view, status, record, node)


async def _one_pod(services: ApiServices, name: str) -> dict[str, Any] | None:
    mirrors = services.mirrors
    try:
        place = locate_instance(name, mirrors)
    except Problem:
        return None
    view = next((v for v in views.instances_of(place.job, mirrors) if v["name"] == name), None)
    return _pod(mirrors, Change(ChangeType.ADDED, name, view)) if view is not None else None


def _node(mirrors: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    record = mirrors.node(change.name)
    if record is None:
        return None
    return convert.node(
        record,
        mirrors.allocation(change.name),
        cordoned=change.name in mirrors.cordoned(),
    )


async def _one_node(services: ApiServices, name: str) -> dict[str, Any] | None:
    return _node(services.mirrors, Change(ChangeType.ADDED, name, {}))


def _deployment(mirrors: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    record = mirrors.job(change.name)
    if record is None:
        return None
    instances = views.instances_of(change.name, mirrors)
    statuses = [
        status
        for view in instances
        if (status := mirrors.instance_status(view["job"], view["index"])) is not None
    ]
    return convert.deployment(
        record,
        mirrors.deployment(change.name),
        statuses,
        mirrors.job_revision(change.name),
    )


async def _one_deployment(services: ApiServices, name: str) -> dict[str, Any] | None:
    return _deployment(services.mirrors, Change(ChangeType.ADDED, name, {}))


def _event(_: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    return convert.event(change.name, Event.model_validate(change.object))


async def _one_event(services: ApiServices, name: str) -> dict[str, Any] | None:
    # Events are not in the node's mirrors: their hub holds them (started by this).
    _, changes = await snapshot(services, EVENT)
    for change in changes:
        if change.name == name:
            return _event(services.mirrors, change)
    return None


PODS = Served("Pod", "v1", INSTANCE, _pod, _one_pod)
NODES = Served("Node", "v1", NODE, _node, _one_node)
DEPLOYMENTS = Served("Deployment", "apps/v1", JOB, _deployment, _one_deployment)
EVENTS = Served("Event", "v1", EVENT, _event, _one_event)
