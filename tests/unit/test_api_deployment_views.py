"""How the API shows a deployment (api/deployment_views.py): counts from the record, and each
instance's version as the schedule pins it and as its node reports it."""

from __future__ import annotations

from ozymandias.api.deployment_views import deployment_detail, deployment_summary
from ozymandias.cluster.records import (
    Deployment,
    DeploymentStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Schedule,
)
from ozymandias.spec.loader import load_job
from ozymandias.spec.update import UpdatePolicy

JOB = JobRecord(
    spec=load_job("name: web\nnumInstances: 3\ncontainers: {app: {image: x}}"), version=2
)
DEPLOYMENT = Deployment(
    job="web",
    version=2,
    status=DeploymentStatus.PAUSED,
    description="canaries healthy: waiting for promotion",
    update=UpdatePolicy(canary=1),
    created_at=5.0,
    updated_at=6.0,
    last_progress_at=6.0,
    placed={3: 5.5},
    healthy=[3],
    desired=3,
)


def status(index: int, node: str, version: int, health: Health = Health.HEALTHY) -> InstanceStatus:
    return InstanceStatus(
        job="web",
        index=index,
        node=node,
        state=InstanceState.RUNNING,
        health=health,
        spec_version=version,
    )


def test_the_summary_counts_what_the_deployment_placed_and_saw_healthy() -> None:
    shown = deployment_summary(DEPLOYMENT).model_dump(by_alias=True)
    assert shown == {
        "job": "web",
        "version": 2,
        "status": "paused",
        "active": True,
        "description": "canaries healthy: waiting for promotion",
        "desired": 3,
        "placed": 1,
        "healthy": 1,
        "unhealthy": 0,
        "canary": 1,
        "promoted": False,
        "maxParallel": 1,
        "autoRevert": True,
        "autoPromote": False,
        "failRequested": "",
        "revertOf": 0,
        "failedInstance": "",
        "createdAt": 5.0,
        "updatedAt": 6.0,
    }


def test_each_instance_shows_the_version_it_should_run_and_the_one_it_runs() -> None:
    schedule = Schedule(
        job="web",
        placements={0: "n1", 1: "n2", 2: "n1", 3: "n2"},
        pending={4: "no room"},
        versions={0: 1, 1: 1},  # kept on version 1 for now
        surge={3: -1},  # a canary beside them
    )
    statuses = [
        status(0, "n1", 1),
        status(1, "n2", 1),
        status(2, "n1", 1, health=Health.STARTING),  # replaced in place: still the old pod
        status(3, "n2", 2),
        status(9, "n9", 1),  # not in the schedule: left out
    ]
    rows = [
        (row.name, row.node, row.version, row.running_version, row.health, row.canary, row.reason)
        for row in deployment_detail(DEPLOYMENT, JOB, schedule, statuses).instances
    ]
    assert rows == [
        ("web-0", "n1", 1, 1, "healthy", False, ""),
        ("web-1", "n2", 1, 1, "healthy", False, ""),
        ("web-2", "n1", 2, 1, "starting", False, ""),
        ("web-3", "n2", 2, 2, "healthy", True, ""),
        ("web-4", "", 2, None, "", False, "no room"),
    ]


def test_a_surge_instance_names_the_one_it_replaces_and_an_unreported_one_runs_nothing() -> None:
    schedule = Schedule(job="web", placements={0: "n1", 3: "n2"}, versions={0: 1}, surge={3: 0})
    statuses = [status(0, "n1", 1), status(3, "n1", 2)]  # index 3's report is from another node
    detail = deployment_detail(DEPLOYMENT, JOB, schedule, statuses).model_dump(by_alias=True)
    surge = detail["instances"][1]
    assert (surge["replaces"], surge["runningVersion"], surge["state"]) == (0, None, "pending")
    assert detail["instances"][0]["replaces"] is None
