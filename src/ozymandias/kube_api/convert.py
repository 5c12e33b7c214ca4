"""STAND-IN until kube-model's converters land: the records → Kubernetes objects."""

from __future__ import annotations

from typing import Any

from ozymandias.cluster.records import (
    Deployment,
    Event,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
)


def _ts(unix: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(unix or 0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    view: dict[str, Any], status: InstanceStatus | None, record: JobRecord, node: Node | None
) -> dict[str, Any]:
    phase = {"running": "Running", "completed": "Succeeded", "failed": "Failed"}.get(
        view["state"], "Pending"
    )
    containers = [{"name": n, "image": c.image} for n, c in record.spec.containers.items()]
    statuses = [
        {
            "name": c["name"],
            "ready": c["state"] == "running",
            "restartCount": c["restarts"],
            "image": "",
            "imageID": "",
            "state": {"running": {}} if c["state"] == "running" else {"waiting": {}},
        }
        for c in view["containers"]
    ]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": view["name"],
            "namespace": "default",
            "labels": view.get("labels", {}),
            "creationTimestamp": _ts(view["updatedAt"]),
            "resourceVersion": "1",
            "uid": f"pod-{view['name']}",
        },
        "spec": {"nodeName": view["node"], "containers": containers},
        "status": {
            "phase": phase,
            "podIP": view["podIP"],
            "hostIP": node.address if node else "",
            "containerStatuses": statuses,
        },
    }


def node(record: Node, allocation: Resources | None, *, cordoned: bool) -> dict[str, Any]:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": record.name,
            "labels": record.labels,
            "creationTimestamp": _ts(record.started_at),
            "resourceVersion": "1",
        },
        "spec": {"unschedulable": cordoned},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def deployment(
    record: JobRecord,
    rollout: Deployment | None,
    statuses: list[InstanceStatus],
    revision: int,
) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": record.spec.name,
            "namespace": "default",
            "labels": dict(record.spec.labels),
            "creationTimestamp": _ts(record.submitted_at),
            "resourceVersion": str(revision),
        },
        "spec": {"replicas": record.spec.num_instances},
        "status": {"replicas": len(statuses)},
    }


def event(name: str, record: Event) -> dict[str, Any]:
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "resourceVersion": "1"},
        "reason": record.kind,
        "message": record.message,
        "involvedObject": {"kind": "Pod", "name": record.instance},
        "lastTimestamp": _ts(record.time),
        "type": "Normal",
    }
