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
from typing import Any

from ozymandias.api import views
from ozymandias.api.instance_proxy import locate_instance
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices
from ozymandias.cluster.records import Event
from ozymandias.kube_api import convert
from ozymandias.kube_api.watch import snapshot
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.watch_sources import rollout_sources
from ozymandias.watch.changes import Change, ChangeType
from ozymandias.watch.feeds import EVENT, INSTANCE, NODE
from ozymandias.watch.hub import Feed, Objects

ROLLOUTS = "kube-deployment"

Build = Callable[[ClusterMirrors, Change], dict[str, Any] | None]


@dataclass(frozen=True)
class Served:
    kind: str
    api_version: str
    hub: str
    build: Build
    one: Callable[[ApiServices, str], Awaitable[dict[str, Any] | None]]
    feed: Callable[[ClusterMirrors], Feed] | None = None
    """The hub's feed, for a hub of this API's own (None: one of watch/feeds.py's)."""


def _pod(mirrors: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    record = mirrors.job(change.object["job"])
    return convert.pod(mirrors, change.object, record) if record is not None else None


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
    return convert.node(mirrors, record) if record is not None else None


async def _one_node(services: ApiServices, name: str) -> dict[str, Any] | None:
    return _node(services.mirrors, Change(ChangeType.ADDED, name, {}))


def deployment_of(mirrors: ClusterMirrors, name: str) -> dict[str, Any] | None:
    """The Deployment of job `name` (None: no such job, or a system job, which is not one)."""
    record = mirrors.job(name)
    if record is None or record.spec.is_system:
        return None
    statuses = [
        status
        for view in views.instances_of(name, mirrors)
        if (status := mirrors.instance_status(view["job"], view["index"])) is not None
        and status.node == view["node"]
    ]
    return convert.deployment(
        record, mirrors.deployment(name), statuses, mirrors.job_revision(name)
    )


def _rollout_feed(mirrors: ClusterMirrors) -> Feed:
    """Deployments as they are shown: the job summaries' hub would miss a change of health or
    of the rollout record alone, which `kubectl rollout status` waits on."""

    def shown(names: set[str]) -> dict[str, Objects]:
        found = {name: deployment_of(mirrors, name) for name in names}
        return {name: {name: obj} for name, obj in found.items() if obj is not None}

    return Feed(
        ROLLOUTS,
        rollout_sources(mirrors),
        lambda: {record.spec.name for record in mirrors.jobs.items.values()},
        shown,
        mirrors.wait_synced,
        mirrors.revision,
    )


def _deployment(_: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    return change.object  # the hub's own: already the Deployment


async def _one_deployment(services: ApiServices, name: str) -> dict[str, Any] | None:
    return deployment_of(services.mirrors, name)


def _event(mirrors: ClusterMirrors, change: Change) -> dict[str, Any] | None:
    return convert.event(Event.model_validate(change.object), mirrors.revision())


async def _one_event(services: ApiServices, name: str) -> dict[str, Any] | None:
    # Events are not in the node's mirrors: their hub holds them (started by this).
    _, changes = await snapshot(services, EVENT)
    for change in changes:
        found = _event(services.mirrors, change)
        if found is not None and found["metadata"]["name"] == name:
            return found
    return None


PODS = Served("Pod", "v1", INSTANCE, _pod, _one_pod)
NODES = Served("Node", "v1", NODE, _node, _one_node)
DEPLOYMENTS = Served(
    "Deployment", "apps/v1", ROLLOUTS, _deployment, _one_deployment, _rollout_feed
)
EVENTS = Served("Event", "v1", EVENT, _event, _one_event)
