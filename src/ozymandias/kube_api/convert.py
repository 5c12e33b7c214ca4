"""The records a Kubernetes object is made of, gathered from the mirrors, and given to kube/'s
converters (pure): which spec an instance runs, its node, the revisions.

Shared by the reads (kinds.py) and the writes (which answer with the
Deployment as the reads show it).
"""

from __future__ import annotations

from typing import Any

from ozymandias.cluster.records import (
    Deployment,
    Event,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
)
from ozymandias.kube.deployments import deployment_from_job
from ozymandias.kube.events import event_to_kube
from ozymandias.kube.nodes import NodeInfo, node_to_kube
from ozymandias.kube.pods import pod_from_instance
from ozymandias.store.cluster_mirrors import ClusterMirrors


def pod(mirrors: ClusterMirrors, view: dict[str, Any], record: JobRecord) -> dict[str, Any]:
    """The Pod of the instance `view` (api/views.py's) of job `record`: its status as its
    node reports it, or Pending until it does."""
    job, index, node_name = view["job"], view["index"], view["node"]
    status = mirrors.instance_status(job, index)
    if status is None or status.node != node_name:
        status = InstanceStatus(
            job=job, index=index, node=node_name, state=InstanceState.PENDING,
            reason=view.get("reason", ""),
        )  # fmt: skip
    spec = record.spec_of_version(status.spec_version) or record.spec
    node = mirrors.node(node_name) if node_name else None
    placed = _placed_at(mirrors.deployment(job), index)
    return pod_from_instance(
        status,
        spec,
        node,
        resource_version=mirrors.instance_revision(job, index) or mirrors.job_revision(job),
        created=placed,
    )


def _placed_at(rollout: Deployment | None, index: int) -> float | None:
    return rollout.placed.get(index) if rollout is not None else None


def node(mirrors: ClusterMirrors, record: Node) -> dict[str, Any]:
    """A live node (its record is under its lease: it is Ready)."""
    return node_to_kube(
        record,
        cordoned=record.name in mirrors.cordoned(),
        ready=True,
        resource_version=mirrors.node_revision(record.name),
        info=NodeInfo(
            ozy_version=record.software.ozy_version,
            os_image=record.software.os_image,
            kernel_version=record.software.kernel_version,
            architecture=record.software.architecture,
        ),
    )


def deployment(
    record: JobRecord,
    rollout: Deployment | None,
    statuses: list[InstanceStatus],
    revision: int,
) -> dict[str, Any]:
    """The Deployment of job `record`, its status following `rollout`."""
    return deployment_from_job(record, rollout, statuses, resource_version=revision)


def event(record: Event, revision: int) -> dict[str, Any]:
    return event_to_kube(record, resource_version=revision)
