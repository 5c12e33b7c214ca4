"""A job spec's validation problems, named by the Deployment fields they came from. Pure.

`job_spec_from_deployment` maps fields; the caller then validates the job spec
with the node's limits (`spec.loader.job_from_data`), whose problems name the
job's fields (`containers.nginx.memory`). kubectl shows a Status' causes, so
`deployment_invalid` turns that `SpecError` into an Invalid Status whose causes
name the Deployment's fields (`spec.template.spec.containers[0].resources.limits.memory`).
"""

from __future__ import annotations

from typing import Any

from ozymandias.kube.job_extras import EXTRAS_ANNOTATION
from ozymandias.kube.status import Cause, KubeError, invalid
from ozymandias.spec.loader import SpecError

POD = "spec.template.spec"
_JOB_FIELDS = {
    "name": "metadata.name",
    "labels": "metadata.labels",
    "annotations": "metadata.annotations",
    "numInstances": "spec.replicas",
    "num_instances": "spec.replicas",
    "nodeSelector": f"{POD}.nodeSelector",
    "affinity": f"{POD}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    ".nodeSelectorTerms[0].matchExpressions",
    "containers": f"{POD}.containers",
}
_UPDATE_FIELDS = {
    "max_parallel": "spec.strategy.rollingUpdate",
    "min_healthy_time": "spec.minReadySeconds",
    "progress_deadline": "spec.progressDeadlineSeconds",
}
_CONTAINER_FIELDS = {
    "image": "image",
    "entrypoint": "command",
    "command": "args",
    "environment": "env",
    "ports": "ports",
    "memory": "resources.limits.memory",
    "cpus": "resources.limits.cpu",
    "volumes": "volumeMounts",
    "working_dir": "workingDir",
    "user": "securityContext.runAsUser",
    "pull": "imagePullPolicy",
}
_PROBE_FIELDS = {
    "interval": "periodSeconds",
    "timeout": "timeoutSeconds",
    "healthy_threshold": "successThreshold",
    "unhealthy_threshold": "failureThreshold",
    "start_period": "initialDelaySeconds",
    "command": "exec.command",
    "path": "httpGet.path",
}


def deployment_invalid(obj: dict[str, Any], error: SpecError) -> KubeError:
    """The Invalid Status of the Deployment `obj`, whose job spec `error` refused."""
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = str((metadata or {}).get("name", ""))
    causes: list[Cause] = [
        {
            "reason": "FieldValueInvalid",
            "message": problem.message,
            "field": deployment_field(problem.path, obj),
        }
        for problem in error.problems
    ]
    return invalid("Deployment", name, causes)


def deployment_field(path: str, obj: dict[str, Any]) -> str:
    """The Deployment field a job spec's dotted `path` came from."""
    parts = path.split(".") if path else []
    if not parts:
        return "spec"
    head, rest = parts[0], parts[1:]
    if head == "update" and rest and rest[0] in _UPDATE_FIELDS:
        return _UPDATE_FIELDS[rest[0]]
    if head == "containers" and rest:
        return _container_field(rest, obj)
    if head in _JOB_FIELDS:
        return _joined(_JOB_FIELDS[head], rest)
    return _joined(f"metadata.annotations[{EXTRAS_ANNOTATION}]", parts)


def _container_field(parts: list[str], obj: dict[str, Any]) -> str:
    containers = _path(obj, "spec", "template", "spec", "containers")
    listed = containers if isinstance(containers, list) else []
    names = [c.get("name") if isinstance(c, dict) else None for c in listed]
    name, rest = parts[0], parts[1:]
    if name not in names:
        return f"{POD}.containers"
    index = names.index(name)
    prefix = f"{POD}.containers[{index}]"
    if not rest:
        return prefix
    field, deeper = rest[0], rest[1:]
    if field == "stop_grace_period":
        return f"{POD}.terminationGracePeriodSeconds"
    if field == "healthcheck":
        container = listed[index]
        probe = "readinessProbe" if "readinessProbe" in container else "livenessProbe"
        return _joined(f"{prefix}.{probe}", [_probe_field(deeper, container.get(probe))])
    if field in _CONTAINER_FIELDS:
        return _joined(f"{prefix}.{_CONTAINER_FIELDS[field]}", deeper)
    return _joined(f"metadata.annotations[{EXTRAS_ANNOTATION}]", ["containers", *parts])


def _probe_field(parts: list[str], probe: Any) -> str:
    if not parts:
        return ""
    if parts[0] == "port":
        handler = "httpGet" if isinstance(probe, dict) and "httpGet" in probe else "tcpSocket"
        return f"{handler}.port"
    return _PROBE_FIELDS.get(parts[0], parts[0])


def _joined(prefix: str, parts: list[str]) -> str:
    shown = prefix
    for part in parts:
        if not part:
            continue
        shown += f"[{part}]" if part.isdigit() else f".{part}"
    return shown


def _path(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj
