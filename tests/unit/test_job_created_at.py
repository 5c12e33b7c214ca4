"""A job keeps the time it was first submitted across its versions (its Deployment's age)."""

from __future__ import annotations

from typing import cast

from ozymandias.cluster.records import JobRecord, Node, Resources
from ozymandias.jobs.service import JobService
from ozymandias.spec.loader import load_job
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.job_service_fakes import Etcd, Mirrors

SPEC = load_job("name: web\ncontainers: {app: {image: web:1, memory: 64M}}\n")
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=1024**3, disk=1024**3),
    started_at=0,
)


def service(job: JobRecord | None) -> JobService:
    inputs = PlanningInputs(
        nodes=[NODE],
        allocations={},
        job=job,
        job_revision=3 if job else 0,
        schedule=None,
        schedule_revision=0,
    )
    return JobService(
        cast(ClusterStore, Etcd(inputs)), cast(ClusterMirrors, Mirrors(inputs)), node_name="n1"
    )


async def test_a_new_job_is_created_when_first_submitted() -> None:
    result = await service(None).apply(SPEC)
    assert result.job.created_at == result.job.submitted_at > 0


async def test_a_new_version_keeps_the_jobs_creation_time() -> None:
    current = JobRecord(spec=SPEC, version=1, submitted_at=500.0, created_at=100.0)
    changed = SPEC.model_copy(update={"labels": {"tier": "web"}})
    result = await service(current).apply(changed)
    assert result.job.created_at == 100.0 and result.job.submitted_at > 500.0


async def test_a_record_from_before_keeps_its_last_submission_as_its_creation() -> None:
    current = JobRecord(spec=SPEC, version=1, submitted_at=500.0)
    result = await service(current).apply(SPEC.model_copy(update={"labels": {"a": "b"}}))
    assert result.job.created_at == 500.0
