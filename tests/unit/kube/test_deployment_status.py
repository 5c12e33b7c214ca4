"""A Deployment's status follows the job's rollout, so `kubectl rollout status` reads it right.

`rollout_status` is kubectl's own rule (k8s.io/kubectl/pkg/polymorphichelpers/
rollout_status.go, DeploymentStatusViewer), restated as the oracle.
"""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
)
from ozymandias.kube.deployments import deployment_from_job, job_spec_from_deployment
from ozymandias.spec.loader import job_from_data
from tests.unit.kube.manifests import nginx

SPEC = job_from_data(job_spec_from_deployment(nginx()))  # 3 replicas
RECORD = JobRecord(spec=SPEC, version=2, submitted_at=1_000.0)


def rollout_status(deployment: dict[str, Any]) -> tuple[str, bool]:
    """(what kubectl prints, done); an exceeded deadline is kubectl's error, as its text."""
    name = deployment["metadata"]["name"]
    status = deployment["status"]
    if deployment["metadata"]["generation"] > status.get("observedGeneration", 0):
        return "Waiting for deployment spec update to be observed...", False
    for condition in status.get("conditions", []):
        if condition["type"] == "Progressing" and condition["reason"] == "ProgressDeadlineExceeded":
            return f'error: deployment "{name}" exceeded its progress deadline', True
    replicas = deployment["spec"]["replicas"]
    updated = status.get("updatedReplicas", 0)
    if updated < replicas:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas}'
            " new replicas have been updated...",
            False,
        )
    if status.get("replicas", 0) > updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish:'
            f" {status['replicas'] - updated} old replicas are pending termination...",
            False,
        )
    available = status.get("availableReplicas", 0)
    if available < updated:
        return (
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated}'
            " updated replicas are available...",
            False,
        )
    return f'deployment "{name}" successfully rolled out', True


def instance(
    index: int,
    version: int,
    state: InstanceState = InstanceState.RUNNING,
    health: Health = Health.HEALTHY,
) -> InstanceStatus:
    return InstanceStatus(
        job=SPEC.name, index=index, node="n1", state=state, spec_version=version, health=health
    )


def rollout(status: DeploymentStatus) -> Deployment:
    return Deployment(
        job=SPEC.name,
        version=2,
        status=status,
        description="rolling out version 2",
        created_at=1_000.0,
        updated_at=1_010.0,
        last_progress_at=1_010.0,
    )


def show(deployment: Deployment | None, instances: list[InstanceStatus]) -> dict[str, Any]:
    return deployment_from_job(RECORD, deployment, instances, resource_version=7, created=900.0)


NAME = SPEC.name


@pytest.mark.parametrize(
    ("status", "instances", "said", "done"),
    [
        (
            DeploymentStatus.SUCCESSFUL,
            [instance(i, 2) for i in range(3)],
            f'deployment "{NAME}" successfully rolled out',
            True,
        ),
        (
            DeploymentStatus.RUNNING,
            [instance(0, 2), instance(1, 1), instance(2, 1)],
            f'Waiting for deployment "{NAME}" rollout to finish: 1 out of 3 new replicas have'
            " been updated...",
            False,
        ),
        (
            DeploymentStatus.RUNNING,
            [*(instance(i, 2) for i in range(3)), instance(3, 1)],
            f'Waiting for deployment "{NAME}" rollout to finish: 1 old replicas are pending'
            " termination...",
            False,
        ),
        (
            DeploymentStatus.RUNNING,
            [instance(0, 2), instance(1, 2), instance(2, 2, health=Health.STARTING)],
            f'Waiting for deployment "{NAME}" rollout to finish: 2 of 3 updated replicas are'
            " available...",
            False,
        ),
        (
            DeploymentStatus.RUNNING,
            [*(instance(i, 2) for i in range(3)), instance(3, 1, InstanceState.STOPPING)],
            f'deployment "{NAME}" successfully rolled out',  # a stopping pod is terminating
            True,
        ),
        (
            DeploymentStatus.FAILED,
            [instance(0, 2, InstanceState.FAILED), instance(1, 1), instance(2, 1)],
            f'error: deployment "{NAME}" exceeded its progress deadline',
            True,
        ),
        (
            DeploymentStatus.REVERTED,
            [instance(i, 1) for i in range(3)],
            f'error: deployment "{NAME}" exceeded its progress deadline',
            True,
        ),
    ],
)
def test_kubectl_rollout_status_reads_the_rollout(
    status: DeploymentStatus, instances: list[InstanceStatus], said: str, done: bool
) -> None:
    assert rollout_status(show(rollout(status), instances)) == (said, done)


def test_status_counts_and_conditions() -> None:
    shown = show(rollout(DeploymentStatus.SUCCESSFUL), [instance(i, 2) for i in range(3)])
    status = shown["status"]
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }
    assert shown["metadata"]["generation"] == 2
    assert shown["metadata"]["resourceVersion"] == "7"
    assert shown["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_a_running_rollout_is_progressing_and_a_paused_one_says_so() -> None:
    running = show(rollout(DeploymentStatus.RUNNING), [instance(0, 2, health=Health.STARTING)])
    conditions = {c["type"]: c for c in running["status"]["conditions"]}
    assert conditions["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert conditions["Available"]["status"] == "False"
    assert running["status"]["unavailableReplicas"] == 3
    paused = show(rollout(DeploymentStatus.PAUSED), [])
    assert {c["type"]: c["reason"] for c in paused["status"]["conditions"]}["Progressing"] == (
        "DeploymentPaused"
    )


def test_an_older_versions_record_says_nothing_of_this_one() -> None:
    old = rollout(DeploymentStatus.FAILED).model_copy(update={"version": 1})
    shown = show(old, [instance(i, 2) for i in range(3)])
    assert rollout_status(shown) == (f'deployment "{NAME}" successfully rolled out', True)


def test_a_revert_counts_instances_of_the_versions_it_goes_back_to() -> None:
    revert = rollout(DeploymentStatus.RUNNING).model_copy(update={"satisfied_by": [1]})
    shown = show(revert, [instance(i, 1) for i in range(3)])
    assert shown["status"]["updatedReplicas"] == 3


def test_the_uid_is_stable_for_a_jobs_life() -> None:
    first = show(None, [])["metadata"]["uid"]
    assert show(rollout(DeploymentStatus.RUNNING), [])["metadata"]["uid"] == first
    again = deployment_from_job(RECORD, None, [], resource_version=7, created=901.0)
    assert again["metadata"]["uid"] != first


def test_by_default_a_deployment_is_as_old_as_its_job_not_its_version() -> None:
    record = RECORD.model_copy(update={"created_at": 100.0, "version": 5})
    shown = deployment_from_job(record, None, [], resource_version=7)
    assert shown["metadata"]["creationTimestamp"] == "1970-01-01T00:01:40Z"
    newer = record.model_copy(update={"submitted_at": 5_000.0, "version": 6})
    assert (
        deployment_from_job(newer, None, [], resource_version=8)["metadata"]["uid"]
        == (shown["metadata"]["uid"])
    )
