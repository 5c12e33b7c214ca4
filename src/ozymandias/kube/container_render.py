"""One container of an ozy job -> the container of a Deployment's pod template. Pure.

The inverse of container_spec.py for what Kubernetes can say; the rest goes to
the job extras (job_extras.py). A healthcheck is shown as a readinessProbe,
with every timing field, as the apiserver shows a defaulted probe.
"""

from __future__ import annotations

from typing import Any

from ozymandias.kube.container_spec import PROTOCOLS, PULL_POLICIES
from ozymandias.kube.job_extras import numeric_user
from ozymandias.kube.quantities import format_bytes, format_cores
from ozymandias.spec.models import ContainerSpec, HealthCheck

_PULL_NAMES = {ozy: kube for kube, ozy in PULL_POLICIES.items()}
_PROTOCOL_NAMES = {ozy: kube for kube, ozy in PROTOCOLS.items()}


def seconds(value: float) -> int | float:
    """Whole seconds as an integer (what Kubernetes' fields hold), finer ones as they are."""
    return int(value) if float(value).is_integer() else value


def container_to_kube(name: str, container: ContainerSpec) -> dict[str, Any]:
    rendered: dict[str, Any] = {"name": name, "image": container.image}
    if container.entrypoint is not None:
        rendered["command"] = list(container.entrypoint)
    if container.command is not None:
        rendered["args"] = list(container.command)
    if container.working_dir is not None:
        rendered["workingDir"] = container.working_dir
    if container.environment:
        rendered["env"] = [
            {"name": key, "value": value} if value else {"name": key}
            for key, value in container.environment.items()
        ]
    if container.ports:
        rendered["ports"] = [
            {"containerPort": port.container_port, "protocol": _PROTOCOL_NAMES[port.protocol]}
            for port in container.ports
        ]
    limits = {"memory": format_bytes(container.memory)}
    if container.cpus is not None:
        limits["cpu"] = format_cores(container.cpus)
    rendered["resources"] = {"limits": limits}
    if container.healthcheck is not None:
        rendered["readinessProbe"] = probe(container.healthcheck)
    local = [volume for volume in container.volumes if volume.type == "local"]
    if local:
        rendered["volumeMounts"] = [
            {"name": volume.name, "mountPath": volume.path} for volume in local
        ]
    if container.pull is not None:
        rendered["imagePullPolicy"] = _PULL_NAMES[container.pull]
    if container.user is not None and numeric_user(container.user):
        user, _, group = container.user.partition(":")
        context = {"runAsUser": int(user)}
        if group:
            context["runAsGroup"] = int(group)
        rendered["securityContext"] = context
    return rendered


def probe(check: HealthCheck) -> dict[str, Any]:
    rendered: dict[str, Any]
    if check.type == "http":
        rendered = {"httpGet": {"path": check.path, "port": check.port, "scheme": "HTTP"}}
    elif check.type == "tcp":
        rendered = {"tcpSocket": {"port": check.port}}
    else:
        rendered = {"exec": {"command": list(check.command or [])}}
    return rendered | {
        "initialDelaySeconds": seconds(check.start_period),
        "periodSeconds": seconds(check.interval),
        "timeoutSeconds": seconds(check.timeout),
        "successThreshold": check.healthy_threshold,
        "failureThreshold": check.unhealthy_threshold,
    }
