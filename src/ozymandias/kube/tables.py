"""Lists as meta.k8s.io/v1 Tables, with the columns and cells the apiserver prints. Pure.

kubectl asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints
the Table it gets back as it is, so the columns, their order and the cells follow
kubernetes' pkg/printers/internalversion/printers.go (printPod, printNode,
printDeployment, printEvent). As the apiserver does, every column is sent, the
`-o wide` ones with priority 1, which kubectl hides unless asked; `wide=False`
leaves them out for a caller that wants the short table only. Each row carries its
object (`include_object`, the `includeObject` parameter): its metadata by default,
which kubectl needs for names and `--show-labels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

IncludeObject = Literal["None", "Object", "Metadata"]
Cells = list[Any]

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although"
    " some resources may allow a client to request the generation of an appropriate name"
    " automatically. Name is primarily intended for creation idempotence and configuration"
    " definition. Cannot be updated."
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was"
    " created. It is represented in RFC3339 form and is in UTC."
)


def _column(name: str, description: str, priority: int = 0, format: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "format": format,
        "description": description,
        "priority": priority,
    }


COLUMNS: dict[str, list[dict[str, Any]]] = {
    "Pod": [
        _column("Name", _NAME_DOC, format="name"),
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column(
            "Restarts",
            "The number of times the containers in this pod have been restarted and when the"
            " last container in this pod has restarted.",
        ),
        _column("Age", _AGE_DOC),
        _column("IP", "podIP address allocated to the pod.", 1),
        _column("Node", "NodeName is a request to schedule this pod onto a specific node.", 1),
        _column("Nominated Node", "nominatedNodeName is set only when this pod preempts.", 1),
        _column("Readiness Gates", "If specified, all readiness gates will be evaluated.", 1),
    ],
    "Node": [
        _column("Name", _NAME_DOC, format="name"),
        _column("Status", "The status of the node"),
        _column("Roles", "The roles of the node"),
        _column("Age", _AGE_DOC),
        _column("Version", "Kubelet Version reported by the node."),
        _column("Internal-IP", "List of addresses reachable to the node.", 1),
        _column("External-IP", "List of addresses reachable to the node.", 1),
        _column("OS-Image", "OS Image reported by the node from /etc/os-release.", 1),
        _column("Kernel-Version", "Kernel Version reported by the node.", 1),
        _column("Container-Runtime", "ContainerRuntime Version reported by the node.", 1),
    ],
    "Deployment": [
        _column("Name", _NAME_DOC, format="name"),
        _column("Ready", "Number of the pod with ready state"),
        _column(
            "Up-to-date",
            "Total number of non-terminated pods targeted by this deployment"
            " that have the desired template spec.",
        ),
        _column(
            "Available",
            "Total number of available pods (ready for at least"
            " minReadySeconds) targeted by this deployment.",
        ),
        _column("Age", _AGE_DOC),
        _column("Containers", "Names of each container in the template.", 1),
        _column("Images", "Images referenced by each container in the template.", 1),
        _column("Selector", "Label selector for pods.", 1),
    ],
    "Event": [
        _column(
            "Last Seen", "The time at which the most recent occurrence of this event was recorded."
        ),
        _column(
            "Type", "Type of this event (Normal, Warning), new types could be added in the future"
        ),
        _column(
            "Reason",
            "This should be a short, machine understandable string that gives the reason"
            " for the transition into the object's current status.",
        ),
        _column("Object", "The object that this event is about."),
        _column("Subobject", "The field of the object the event is about.", 1),
        _column("Source", "The component reporting this event.", 1),
        _column("Message", "A human-readable description of the status of this operation."),
        _column("First Seen", "The time at which the event was first recorded.", 1),
        _column("Count", "The number of times this event has occurred.", 1),
        _column("Name", _NAME_DOC, 1, format="name"),
    ],
}


def table(
    kind: str,
    objects: Iterable[Mapping[str, Any]],
    *,
    now: float,
    wide: bool = True,
    include_object: IncludeObject = "Metadata",
    resource_version: str = "",
) -> dict[str, Any]:
    """A Table of `objects` (all of `kind`: Pod, Node, Deployment or Event) at time `now`."""
    columns = COLUMNS[kind]
    shown = [index for index, column in enumerate(columns) if wide or column["priority"] == 0]
    printer = _PRINTERS[kind]
    rows = []
    for obj in objects:
        cells, conditions = printer(obj, now)
        row: dict[str, Any] = {"cells": [cells[index] for index in shown]}
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "Metadata":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version} if resource_version else {},
        "columnDefinitions": [columns[index] for index in shown],
        "rows": rows,
    }


def human_duration(seconds: float) -> str:
    """`5s`, `3m10s`, `4h`, `2d`: apimachinery's duration.HumanDuration."""
    whole = int(seconds)  # Go's int() truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _since(stamp: Any, now: float) -> str:
    if not stamp:
        return "<unknown>"
    moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return human_duration(now - moment.timestamp())


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


Row = tuple[Cells, list[dict[str, Any]]]


def _pod_row(pod: Mapping[str, Any], now: float) -> Row:
    status = pod.get("status", {})
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    restarts = 0
    ready = 0
    running = False
    last_restart = ""
    for container in reversed(status.get("containerStatuses", [])):
        restarts += container.get("restartCount", 0)
        finished = _get(container, "lastState", "terminated", "finishedAt")
        if finished and finished > last_restart:
            last_restart = finished
        state = container.get("state", {})
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated and terminated.get("reason"):
            reason = terminated["reason"]
        elif terminated:
            signal = terminated.get("signal", 0)
            reason = f"Signal:{signal}" if signal else f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and "running" in state:
            running = True
            ready += 1
    if reason == "Completed" and running:
        ready_condition = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        reason = "Running" if ready_condition else "NotReady"
    if _get(pod, "metadata", "deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    shown_restarts = str(restarts)
    if restarts and last_restart:
        shown_restarts = f"{restarts} ({_since(last_restart, now)} ago)"
    total = len(_get(pod, "spec", "containers") or [])
    ips = status.get("podIPs") or []
    cells: Cells = [
        _get(pod, "metadata", "name"),
        f"{ready}/{total}",
        reason,
        shown_restarts,
        _since(_get(pod, "metadata", "creationTimestamp"), now),
        (ips[0].get("ip") if ips else "") or "<none>",
        _get(pod, "spec", "nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]
    conditions = []
    if phase == "Succeeded":
        conditions = [_completed("Succeeded", "The pod has completed successfully.")]
    elif phase == "Failed":
        conditions = [_completed("Failed", "The pod failed.")]
    return cells, conditions


def _completed(reason: str, message: str) -> dict[str, Any]:
    return {"type": "Completed", "status": "True", "reason": reason, "message": message}


def _node_row(node: Mapping[str, Any], now: float) -> Row:
    status = node.get("status", {})
    states = [
        "Ready" if c.get("status") == "True" else "NotReady"
        for c in status.get("conditions", [])
        if c.get("type") == "Ready"
    ][:1] or ["Unknown"]
    if _get(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    labels = _get(node, "metadata", "labels") or {}
    roles = sorted(
        {
            key.removeprefix("node-role.kubernetes.io/")
            for key in labels
            if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/"
        }
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    info = status.get("nodeInfo", {})
    addresses = status.get("addresses", [])

    def address(kind: str) -> str:
        return next((a["address"] for a in addresses if a.get("type") == kind), "<none>")

    cells: Cells = [
        _get(node, "metadata", "name"),
        ",".join(states),
        ",".join(roles) or "<none>",
        _since(_get(node, "metadata", "creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]
    return cells, []


def selector_text(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as labels.Selector's String(): `app=web,tier in (a,b)`, sorted by key."""
    if not selector:
        return ""
    parts = [(key, f"{key}={value}") for key, value in (selector.get("matchLabels") or {}).items()]
    operators = {"In": "in", "NotIn": "notin"}
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        if operator in operators:
            values = ",".join(sorted(expression.get("values") or []))
            parts.append((key, f"{key} {operators[operator]} ({values})"))
        else:
            parts.append((key, key if operator == "Exists" else f"!{key}"))
    return ",".join(text for _, text in sorted(parts))


def _deployment_row(deployment: Mapping[str, Any], now: float) -> Row:
    status = deployment.get("status", {})
    spec = deployment.get("spec", {})
    containers = _get(spec, "template", "spec", "containers") or []
    cells: Cells = [
        _get(deployment, "metadata", "name"),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _since(_get(deployment, "metadata", "creationTimestamp"), now),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        selector_text(spec.get("selector")),
    ]
    return cells, []


def _event_row(event: Mapping[str, Any], now: float) -> Row:
    first = _since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first
    involved = event.get("involvedObject", {})
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = event.get("source", {})
    shown_source = source.get("component", "")
    if source.get("host"):
        shown_source = f"{shown_source}, {source['host']}"
    cells: Cells = [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        shown_source,
        str(event.get("message", "")).strip(),
        first,
        event.get("count", 1),
        _get(event, "metadata", "name"),
    ]
    return cells, []


_PRINTERS: dict[str, Callable[[Mapping[str, Any], float], Row]] = {
    "Pod": _pod_row,
    "Node": _node_row,
    "Deployment": _deployment_row,
    "Event": _event_row,
}
