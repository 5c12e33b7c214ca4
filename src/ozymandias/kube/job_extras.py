"""A job's own fields that Kubernetes has no word for, carried through a Deployment. Pure.

A job made with `ozy apply` may use ingress, secrets, a restart policy, a
shared volume, a cluster port other than its container port... A Deployment
cannot say these, yet kubectl sends the whole object back when it patches it.
So the Deployment shows them in one annotation, `EXTRAS_ANNOTATION` (JSON: the
job's fields, and `containers` -> each container's), and reading the Deployment
back puts them into the job again (`merge_extras`): `kubectl apply` to such a
job changes what it says and keeps the rest.
"""

from __future__ import annotations

import json
from typing import Any

from ozymandias.kube.status import Cause, cause
from ozymandias.spec.models import ContainerSpec, JobSpec
from ozymandias.spec.update import UpdatePolicy

EXTRAS_ANNOTATION = "ozymandias.io/job-extras"

JOB_EXTRAS = frozenset(
    {
        "type",
        "priority",
        "rebalance",
        "schedulingConstraints",
        "ingress",
        "dnsSearch",
        "dependsOn",
        "update",
    }
)
# The update block's fields a Deployment's strategy cannot say.
UPDATE_EXTRAS = frozenset({"healthy_deadline", "auto_revert", "canary", "auto_promote"})
CONTAINER_EXTRAS = frozenset(
    {
        "restart",
        "max_retries",
        "depends_on",
        "pids",
        "stop_signal",
        "init",
        "tmpfs",
        "secrets",
        "user",
        "cpus",
        "volumes",
        "cluster_ports",
        "stop_grace_period",
    }
)
# Of those, the ones the Deployment says itself when they fit (see container_render.py).
_RENDERED_WHEN_THEY_FIT = frozenset({"user", "cpus", "volumes", "stop_grace_period"})


def extras_of(spec: JobSpec, grace: float | None) -> dict[str, Any]:
    """What of `spec` the Deployment cannot say (empty: nothing); `grace` is the pod's
    terminationGracePeriodSeconds as rendered."""
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    extras: dict[str, Any] = {
        key: value for key, value in dumped.items() if key in JOB_EXTRAS and key != "update"
    }
    update = spec.update.model_dump(mode="json", include=set(UPDATE_EXTRAS))
    defaults = UpdatePolicy().model_dump(mode="json", include=set(UPDATE_EXTRAS))
    if changed := {key: value for key, value in update.items() if defaults[key] != value}:
        extras["update"] = changed
    containers = {
        name: fields
        for name, container in spec.containers.items()
        if (fields := _container_extras(container, grace))
    }
    if containers:
        extras["containers"] = containers
    return extras


def _container_extras(container: ContainerSpec, grace: float | None) -> dict[str, Any]:
    dumped = container.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    extras = {
        key: value
        for key, value in dumped.items()
        if key in CONTAINER_EXTRAS and key not in _RENDERED_WHEN_THEY_FIT
    }
    if container.user is not None and not numeric_user(container.user):
        extras["user"] = container.user
    if container.cpus is not None and not round(container.cpus * 1000, 6).is_integer():
        extras["cpus"] = container.cpus  # finer than a millicore, which a quantity holds
    if any(volume.type == "shared" for volume in container.volumes):
        # All of them, in their order: the local ones are mounted emptyDirs too.
        extras["volumes"] = dumped["volumes"]
    if grace is not None and container.stop_grace_period != grace:
        extras["stop_grace_period"] = container.stop_grace_period
    cluster_ports = {
        f"{port.container_port}/{port.protocol}": port.cluster_port
        for port in container.ports
        if port.cluster_port != port.container_port
    }
    if cluster_ports:
        extras["cluster_ports"] = cluster_ports
    return extras


def numeric_user(user: str) -> bool:
    """Whether `user` is a uid, or uid:gid, as runAsUser and runAsGroup say it."""
    return all(part.isdigit() for part in user.split(":"))


def merge_extras(job: dict[str, Any], text: str, causes: list[Cause]) -> None:
    """Put the fields of the extras annotation `text` back into the job spec dict `job`."""
    field = f"metadata.annotations[{EXTRAS_ANNOTATION}]"
    try:
        extras = json.loads(text)
    except ValueError:
        extras = None
    if not isinstance(extras, dict) or not isinstance(extras.get("containers", {}), dict):
        causes.append(cause("FieldValueInvalid", field, text, "not a JSON object of job fields"))
        return
    for key, value in extras.items():
        if key == "containers":
            continue
        if key not in JOB_EXTRAS:
            causes.append(cause("FieldValueNotSupported", field, key, "not a job field kept here"))
        elif key == "update" and isinstance(value, dict):
            job["update"] = {**job.get("update", {}), **value}
        else:
            job[key] = value
    for name, fields in extras.get("containers", {}).items():
        container = job["containers"].get(name)
        if container is None or not isinstance(fields, dict):
            continue  # the container is gone from the template: its extras go with it
        for key, value in fields.items():
            if key not in CONTAINER_EXTRAS:
                causes.append(
                    cause("FieldValueNotSupported", field, key, "not a container field kept here")
                )
            else:
                _merge_container_field(container, key, value)


def _merge_container_field(container: dict[str, Any], key: str, value: Any) -> None:
    if key == "cluster_ports" and isinstance(value, dict):
        for port in container.get("ports", []):
            mapped = f"{port['container_port']}/{port['protocol']}"
            port["cluster_port"] = value.get(mapped, port["cluster_port"])
    else:
        container[key] = value
