"""A job, its deployment record and its instances -> an apps/v1 Deployment with status. Pure.

The spec shown is the one kubectl sent, kept in the job's `KUBE_SPEC_ANNOTATION`,
as long as it still describes the job (nothing changed it through `ozy`
since); otherwise the job's own fields in Kubernetes' terms (`generic_spec`),
with what Kubernetes cannot say in the extras annotation. Either way, reading
the Deployment back (`job_spec_from_deployment`) gives the same job spec.

The status follows the job's deployment record, so `kubectl rollout status`
reads an ozy rollout as it reads a Kubernetes one (kubectl's
polymorphichelpers/rollout_status.go): `updatedReplicas` counts instances that
run this version, `availableReplicas` those running and healthy, and a failed
or reverted deployment sets `Progressing` False with reason
ProgressDeadlineExceeded, which kubectl reports as an error.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
)
from ozymandias.kube.container_render import container_to_kube, seconds
from ozymandias.kube.deployment_spec import (
    KUBE_SPEC_ANNOTATION,
    REVISION_ANNOTATION,
    job_spec_from_deployment,
    with_replicas,
)
from ozymandias.kube.job_extras import EXTRAS_ANNOTATION, extras_of
from ozymandias.kube.per_spec import per_spec
from ozymandias.kube.quantities import format_bytes
from ozymandias.kube.status import KubeError
from ozymandias.spec.models import JobSpec

NAMESPACE = "default"
# The label a job's pods carry when the job did not come with a pod template.
JOB_LABEL = "ozymandias.io/job"
_UID_NAMESPACE = uuid.UUID("6f7a7d4e-2f55-4c1b-9d67-0c1b5f0e1a19")


def timestamp(seconds_since_epoch: float) -> str:
    """RFC 3339 in UTC to the second, as Kubernetes writes metav1.Time."""
    return _second(int(seconds_since_epoch // 1))


@lru_cache(maxsize=4096)
def _second(second: int) -> str:
    # A list of many pods repeats the same few seconds: each is formatted once.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


def object_uid(kind: str, name: str, created: float) -> str:
    """A uid stable for one object's life: a job re-created under its name gets another."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{kind}/{name}/{created!r}"))


def deployment_from_job(
    record: JobRecord,
    deployment: Deployment | None,
    instances: Sequence[InstanceStatus],
    *,
    resource_version: int,
    created: float | None = None,
) -> dict[str, Any]:
    """The Deployment of job `record`; `deployment` is its newest deployment record,
    `instances` the statuses of its instances, `created` when the job was first made
    (default: as its record says; its uid and age follow it, so it must not change with
    each version, as `submitted_at` does)."""
    spec = record.spec
    created = record.created_since(record.submitted_at) if created is None else created
    metadata: dict[str, Any] = {
        "name": spec.name,
        "namespace": NAMESPACE,
        "uid": object_uid("Deployment", spec.name, created),
        "resourceVersion": str(resource_version),
        "generation": record.version,
        "creationTimestamp": timestamp(created),
    }
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    metadata["annotations"] = shown_annotations(spec, record.version)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": deployment_spec(spec),
        "status": deployment_status(record, deployment, instances),
    }


def shown_annotations(spec: JobSpec, version: int) -> dict[str, str]:
    """The job's annotations, its revision, and its extras when the spec shown needs them."""
    annotations = {k: v for k, v in spec.annotations.items() if k != KUBE_SPEC_ANNOTATION}
    annotations[REVISION_ANNOTATION] = str(version)
    if _kept_text(spec) is None and (extras := extras_of(spec, _grace(spec))):
        annotations[EXTRAS_ANNOTATION] = json.dumps(extras, separators=(",", ":"))
    return annotations


def deployment_spec(spec: JobSpec) -> dict[str, Any]:
    """The Deployment's `spec` for job `spec`: as kubectl sent it, or in general terms."""
    kept = _kept_spec(spec)
    if kept is not None:
        return with_replicas(kept, spec.num_instances)
    return generic_spec(spec)


@per_spec
def template_labels(spec: JobSpec) -> dict[str, str]:
    """The labels of the job's pods, which its Deployment's selector selects (shared: not
    to be changed)."""
    kept = _kept_spec(spec)
    if kept is not None:
        labels = kept.get("template", {}).get("metadata", {}).get("labels", {})
        return dict(labels) if isinstance(labels, dict) else {}
    return {**spec.labels, JOB_LABEL: spec.name}


def _kept_spec(spec: JobSpec) -> dict[str, Any] | None:
    """The Deployment spec kubectl sent, if it still describes the job (a fresh copy)."""
    text = _kept_text(spec)
    return json.loads(text) if text is not None else None


@per_spec
def _kept_text(spec: JobSpec) -> str | None:
    text = spec.annotations.get(KUBE_SPEC_ANNOTATION)
    if text is None:
        return None
    comparable = _comparable(spec).model_dump_json()
    return text if _still_describes(text, spec.name, comparable) else None


@lru_cache(maxsize=4096)
def _still_describes(text: str, name: str, comparable: str) -> bool:
    """Whether the Deployment spec `text` stands for the job (`comparable`, as JSON). It is
    read with the count it was sent with, which a strategy's percentages are of."""
    try:
        obj = {"metadata": {"name": name}, "spec": json.loads(text)}
        described = JobSpec.model_validate(job_spec_from_deployment(obj))
    except (KubeError, ValidationError, ValueError, TypeError):
        return False
    return _comparable(described).model_dump_json() == comparable


def _comparable(spec: JobSpec) -> JobSpec:
    # What the Deployment's spec says, but for the count (scaling keeps the rest as sent).
    return spec.model_copy(update={"num_instances": 1, "labels": {}, "annotations": {}})


def _grace(spec: JobSpec) -> float:
    return next(iter(spec.containers.values())).stop_grace_period


def generic_spec(spec: JobSpec) -> dict[str, Any]:
    """The job's fields in Kubernetes' terms, for a job no Deployment spec describes."""
    labels = (
        template_labels(spec)
        if KUBE_SPEC_ANNOTATION not in spec.annotations
        else {
            **spec.labels,
            JOB_LABEL: spec.name,
        }
    )
    pod: dict[str, Any] = {
        "containers": [container_to_kube(name, c) for name, c in spec.containers.items()],
        "terminationGracePeriodSeconds": seconds(_grace(spec)),
    }
    volumes = {
        volume.name: volume.space
        for container in spec.containers.values()
        for volume in container.volumes
        if volume.type == "local"
    }
    if volumes:
        pod["volumes"] = [
            {"name": name, "emptyDir": {"sizeLimit": format_bytes(space)}}
            for name, space in volumes.items()
        ]
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.affinity:
        pod["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [e.model_dump(mode="json") for e in spec.affinity]}
                    ]
                }
            }
        }
    update = spec.update
    return {
        "replicas": spec.num_instances,
        "selector": {"matchLabels": {JOB_LABEL: spec.name}},
        "template": {"metadata": {"labels": labels}, "spec": pod},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": update.max_parallel, "maxUnavailable": 0},
        },
        "minReadySeconds": seconds(update.min_healthy_time),
        "progressDeadlineSeconds": seconds(update.progress_deadline),
        "revisionHistoryLimit": 10,
    }


def deployment_status(
    record: JobRecord, deployment: Deployment | None, instances: Sequence[InstanceStatus]
) -> dict[str, Any]:
    """`status`, as the Deployment controller would keep it for this rollout."""
    if deployment is not None and deployment.version != record.version:
        deployment = None  # an older version's record says nothing of this one
    current = {record.version, *(deployment.satisfied_by if deployment else ())}
    live = [i for i in instances if i.state is not InstanceState.STOPPING]
    updated = [i for i in live if i.spec_version in current]
    ready = [i for i in live if i.state is InstanceState.RUNNING and i.health is Health.HEALTHY]
    desired = record.spec.num_instances
    counts = {
        "observedGeneration": record.version,
        "replicas": len(live),
        "updatedReplicas": len(updated),
        "readyReplicas": len(ready),
        "availableReplicas": len(ready),
        "unavailableReplicas": max(0, desired - len(ready)),
    }
    # Zero counts are left out, as the apiserver's omitempty leaves them.
    status: dict[str, Any] = {key: value for key, value in counts.items() if value}
    status["conditions"] = _conditions(record, deployment, len(ready), len(updated))
    return status


def _conditions(
    record: JobRecord, deployment: Deployment | None, available: int, updated: int
) -> list[dict[str, Any]]:
    desired = record.spec.num_instances
    since = timestamp(deployment.updated_at if deployment else record.submitted_at)
    begun = timestamp(deployment.created_at if deployment else record.submitted_at)
    # Kubernetes' default maxUnavailable is what a rolling update may take away; ozy
    # replaces surge-first, so availability is judged against every instance.
    if available >= desired:
        availability = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        availability = (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    progress = _progress(record, deployment, available, updated)
    return [
        _condition("Available", *availability, since, since),
        _condition("Progressing", *progress, since, begun),
    ]


def _progress(
    record: JobRecord, deployment: Deployment | None, available: int, updated: int
) -> tuple[str, str, str]:
    name = f"{record.spec.name}-v{record.version}"
    said = f" ({deployment.description})" if deployment and deployment.description else ""
    status = deployment.status if deployment else None
    if status in (DeploymentStatus.FAILED, DeploymentStatus.REVERTED):
        return (
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{name}" has timed out progressing.{said}',
        )
    if status is DeploymentStatus.PAUSED:
        return ("Unknown", "DeploymentPaused", f"Deployment is paused.{said}")
    done = status is DeploymentStatus.SUCCESSFUL or (
        status is None and updated >= record.spec.num_instances and available >= updated
    )
    if done:
        return (
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}" has successfully progressed.',
        )
    return ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.{said}')


def _condition(
    kind: str, status: str, reason: str, message: str, updated: str, transition: str
) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": updated,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
