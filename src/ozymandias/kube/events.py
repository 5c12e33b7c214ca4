"""An event record -> a core/v1 Event. Pure.

The object an event is about is the most specific one it names: an instance
(a Pod), else a job (its Deployment), else a node. Its reason is its kind in
CamelCase (`instance-started` -> InstanceStarted), and kinds that tell of
something going wrong are Warnings.
"""

from __future__ import annotations

from typing import Any

from ozymandias.cluster.records import Event
from ozymandias.kube.deployment_render import NAMESPACE, object_uid, timestamp

COMPONENT = "ozymandias"
_WARNING_WORDS = (
    "failed",
    "unhealthy",
    "lost",
    "fenced",
    "preempted",
    "exited",
    "restarting",
    "pending",
    "reverted",
    "error",
    "killed",
    "oom",
)


def is_warning(kind: str) -> bool:
    return any(word in kind for word in _WARNING_WORDS)


def reason_of(kind: str) -> str:
    """`instance-started` -> `InstanceStarted`."""
    return "".join(part.capitalize() for part in kind.replace("_", "-").split("-") if part)


def involved_object(event: Event) -> dict[str, Any]:
    if event.instance:
        return {"kind": "Pod", "namespace": NAMESPACE, "name": event.instance, "apiVersion": "v1"}
    if event.job:
        return {
            "kind": "Deployment",
            "namespace": NAMESPACE,
            "name": event.job,
            "apiVersion": "apps/v1",
        }
    return {"kind": "Node", "name": event.node, "apiVersion": "v1"}


def event_name(event: Event) -> str:
    """`web-0.1876a3c1f0e2b400`: the object's name and the time in nanoseconds, in hex, as
    Kubernetes names events."""
    subject = event.instance or event.job or event.node or "cluster"
    return f"{subject}.{int(event.time * 1e9):x}"


def event_to_kube(
    event: Event, *, resource_version: int, name: str | None = None
) -> dict[str, Any]:
    name = name or event_name(event)
    when = timestamp(event.time)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": object_uid("Event", name, event.time),
            "resourceVersion": str(resource_version),
            "creationTimestamp": when,
        },
        "involvedObject": involved_object(event),
        "reason": reason_of(event.kind),
        "message": event.message,
        "source": {"component": COMPONENT, "host": event.node}
        if event.node
        else {"component": COMPONENT},
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
        "type": "Warning" if is_warning(event.kind) else "Normal",
        "eventTime": None,
        "reportingComponent": COMPONENT,
        "reportingInstance": event.node,
    }
