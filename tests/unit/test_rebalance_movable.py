"""Which instances a rebalance may move (deployments/rebalance.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cluster.records import Deployment, DeploymentStatus, JobRecord, Schedule
from ozymandias.deployments.rebalance import movable_job
from ozymandias.spec.loader import job_from_data


def record(**container: Any) -> JobRecord:
    spec = job_from_data(
        {
            "name": "web",
            "numInstances": 3,
            "containers": {"app": {"image": "x", "memory": "64M", **container}},
        }
    )
    return JobRecord(spec=spec, version=1)


def deployment(status: DeploymentStatus) -> Deployment:
    return Deployment(
        job="web", version=1, status=status, created_at=0, updated_at=0, last_progress_at=0
    )


PLACED = Schedule(job="web", placements={0: "a", 1: "a", 2: "b"}, pending={3: "no room"})


def test_placed_instances_of_a_settled_job_may_move() -> None:
    movable = movable_job(record(), PLACED, deployment(DeploymentStatus.SUCCESSFUL))
    assert movable is not None
    assert movable.placements == {0: "a", 1: "a", 2: "b"}  # not the pending one
    assert movable.pod.memory == 64 * 2**20


@pytest.mark.parametrize(
    "status", [DeploymentStatus.RUNNING, DeploymentStatus.PAUSED], ids=["running", "paused"]
)
def test_a_job_in_a_deployment_does_not_move(status: DeploymentStatus) -> None:
    assert movable_job(record(), PLACED, deployment(status)) is None


def test_surge_instances_and_the_ones_they_replace_stay() -> None:
    schedule = PLACED.model_copy(update={"placements": {0: "a", 1: "a", 4: "b"}, "surge": {4: 1}})
    movable = movable_job(record(), schedule, None)
    assert movable is not None and movable.placements == {0: "a"}


def test_a_job_with_local_volumes_stays_with_its_data() -> None:
    volume = {"volumes": [{"name": "data", "type": "local", "space": "1G", "path": "/data"}]}
    assert movable_job(record(**volume), PLACED, None) is None


def test_a_job_with_nothing_placed_has_nothing_to_move() -> None:
    assert movable_job(record(), None, None) is None
    assert movable_job(record(), Schedule(job="web", pending={0: "no room"}), None) is None


def test_a_system_job_stays_on_its_nodes() -> None:
    spec = job_from_data({"name": "web", "type": "system", "containers": {"app": {"image": "x"}}})
    assert movable_job(JobRecord(spec=spec, version=1), PLACED, None) is None


def test_an_instance_pinned_to_an_older_version_waits_for_the_next_deployment() -> None:
    schedule = PLACED.model_copy(update={"versions": {1: 0}})
    movable = movable_job(record(), schedule, deployment(DeploymentStatus.FAILED))
    assert movable is not None and movable.placements == {0: "a", 2: "b"}


def test_a_job_with_local_volumes_moves_when_it_says_rebalance_true() -> None:
    volume = {"volumes": [{"name": "cache", "type": "local", "space": "1G", "path": "/cache"}]}
    spec = record(**volume).spec.model_copy(update={"rebalance": True})
    movable = movable_job(JobRecord(spec=spec, version=1), PLACED, None)
    assert movable is not None and movable.placements == {0: "a", 1: "a", 2: "b"}
    # Saying so restarts no pod.
    assert spec.pod_fingerprint() == record(**volume).spec.pod_fingerprint()
