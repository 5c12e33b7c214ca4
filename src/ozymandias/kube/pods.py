"""An instance, as its node reports it -> a core/v1 Pod. Pure, and read-only: a Pod is
only ever shown (and deleted, which the server turns into a restart of the instance).
The Pods of one job share their labels and containers (see per_spec.py): a caller
serialises them, never changes them.

The container states are chosen so kubectl's STATUS column (printers.go's printPod,
which tables.py follows) reads what it would for the Kubernetes equivalent:

| instance | Pod phase | STATUS |
|---|---|---|
| pending, waiting (for jobs it depends on) | Pending | Pending |
| pulling | Pending | ContainerCreating (ImagePullBackOff once a pull failed) |
| starting | Pending | ContainerCreating |
| running | Running | Running (CrashLoopBackOff while a container waits to restart) |
| completed | Succeeded | Completed |
| failed | Failed | Error (ErrImagePull when its image could not be pulled) |
| stopping | Running, with a deletionTimestamp | Terminating |
"""

from __future__ import annotations

from typing import Any

from ozymandias.cluster.records import (
    ContainerStatus,
    Health,
    InstanceState,
    InstanceStatus,
    Node,
    instance_name,
    system_instance_name,
)
from ozymandias.kube.container_render import container_to_kube, seconds
from ozymandias.kube.deployment_render import NAMESPACE, object_uid, template_labels, timestamp
from ozymandias.kube.per_spec import per_spec
from ozymandias.spec.models import JobSpec

_PHASES = {
    InstanceState.PENDING: "Pending",
    InstanceState.WAITING: "Pending",
    InstanceState.PULLING: "Pending",
    InstanceState.STARTING: "Pending",
    InstanceState.RUNNING: "Running",
    InstanceState.COMPLETED: "Succeeded",
    InstanceState.FAILED: "Failed",
    InstanceState.STOPPING: "Running",
}
_PULL_FAILURE = "image pull:"


def pod_name(status: InstanceStatus, spec: JobSpec) -> str:
    """The instance's name, which is its Pod's: `web-0`, or a system job's `agent-n1`."""
    if spec.is_system:
        return system_instance_name(status.job, status.node)
    return instance_name(status.job, status.index)


def pod_uid(name: str, status: InstanceStatus, started: float) -> str:
    """One uid per pod the instance runs on (its `pod_id`): a restart or a new version gives
    the Pod another, as a Deployment's replaced pod has, which `kubectl delete pod` waits
    to see; until its node names the pod, one from when it was placed."""
    if status.pod_id:
        return object_uid("Pod", f"{name}/{status.pod_id}", 0.0)
    return object_uid("Pod", name, started)


def pod_from_instance(
    status: InstanceStatus,
    spec: JobSpec,
    node: Node | None,
    *,
    resource_version: int,
    created: float | None = None,
) -> dict[str, Any]:
    """The Pod of one instance; `spec` is the job spec of the version it runs, `node` the
    node it is on (None if gone), `created` when it was placed (default: its last report)."""
    name = pod_name(status, spec)
    started = status.updated_at if created is None else created
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "uid": pod_uid(name, status, started),
        "resourceVersion": str(resource_version),
        "creationTimestamp": timestamp(started),
        "labels": _labels(spec),
    }
    grace = _grace(spec)
    if status.state is InstanceState.STOPPING:
        metadata["deletionTimestamp"] = timestamp(status.updated_at)
        metadata["deletionGracePeriodSeconds"] = seconds(grace)
    pod_spec: dict[str, Any] = {
        "containers": _containers(spec),
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": seconds(grace),
    }
    if status.node:
        pod_spec["nodeName"] = status.node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": pod_spec,
        "status": pod_status(status, spec, node, started),
    }


@per_spec
def _labels(spec: JobSpec) -> dict[str, str]:
    return {**spec.labels, **template_labels(spec)}


@per_spec
def _containers(spec: JobSpec) -> list[dict[str, Any]]:
    return [container_to_kube(name, container) for name, container in spec.containers.items()]


def _grace(spec: JobSpec) -> float:
    return max(container.stop_grace_period for container in spec.containers.values())


def pod_status(
    status: InstanceStatus, spec: JobSpec, node: Node | None, started: float
) -> dict[str, Any]:
    ready = status.state is InstanceState.RUNNING and status.health is Health.HEALTHY
    pod: dict[str, Any] = {"phase": _phase(status)}
    since = timestamp(status.updated_at)
    pod["conditions"] = [
        _condition("PodScheduled", bool(status.node), timestamp(started)),
        _condition("Initialized", status.state is not InstanceState.WAITING, since),
        _condition("ContainersReady", ready, since),
        _condition("Ready", ready, since),
    ]
    if node is not None:
        pod["hostIP"] = node.address
    if status.pod_ip:
        pod["podIP"] = status.pod_ip
        pod["podIPs"] = [{"ip": status.pod_ip}]
    pod["startTime"] = timestamp(started)
    if status.state not in (InstanceState.PENDING, InstanceState.WAITING):
        reported = {container.name: container for container in status.containers}
        pod["containerStatuses"] = [
            _container_status(status, name, container.image, reported.get(name), ready)
            for name, container in spec.containers.items()
        ]
    if status.reason:
        pod["message"] = status.reason
    return pod


def _phase(status: InstanceStatus) -> str:
    if status.state is InstanceState.FAILED and status.reason.startswith(_PULL_FAILURE):
        return "Pending"  # Kubernetes keeps retrying the pull: the pod never leaves Pending
    return _PHASES[status.state]


def _condition(kind: str, true: bool, since: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True" if true else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }


def _container_status(
    status: InstanceStatus,
    name: str,
    image: str,
    reported: ContainerStatus | None,
    pod_ready: bool,
) -> dict[str, Any]:
    state, last = _container_state(status, reported)
    running = "running" in state
    return {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": running and pod_ready,
        "started": running,
        "restartCount": reported.restarts if reported is not None else 0,
        "state": state,
        "lastState": last,
    }


def _container_state(
    status: InstanceStatus, reported: ContainerStatus | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The container's `state` and `lastState`."""
    since = timestamp(status.updated_at)
    pulled_badly = status.reason.startswith(_PULL_FAILURE)
    if status.state is InstanceState.PULLING:
        reason = "ImagePullBackOff" if pulled_badly else "ContainerCreating"
        return {"waiting": {"reason": reason, "message": status.reason}}, {}
    if status.state is InstanceState.FAILED and pulled_badly:
        return {"waiting": {"reason": "ErrImagePull", "message": status.reason}}, {}
    if status.state is InstanceState.FAILED and (reported is None or reported.state != "exited"):
        failed = {"exitCode": 128, "reason": "Error", "message": status.reason}
        return {"terminated": failed | {"finishedAt": since}}, {}
    if reported is None or reported.state == "created":
        return {"waiting": {"reason": "ContainerCreating"}}, {}
    if reported.state == "running":
        return {"running": {"startedAt": since}}, {}
    code = reported.exit_code or 0
    exited = {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "finishedAt": since,
    }
    if reported.restart_at is not None and status.state is not InstanceState.COMPLETED:
        waiting = {"reason": "CrashLoopBackOff", "message": f"back-off restarting {reported.name}"}
        return {"waiting": waiting}, {"terminated": exited}
    return {"terminated": exited}, {}
