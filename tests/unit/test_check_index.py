"""Check-and-set (`PUT /v1/jobs/NAME?checkIndex=N`, jobs/service.py): a job is written only
while it is at the modify index the client read; a lost race is checked again, never retried
past a mismatch."""

from __future__ import annotations

from typing import cast

import pytest

from ozymandias.cluster.records import JobRecord, Node, Resources
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.service import JobService
from ozymandias.spec.loader import load_job
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.job_service_fakes import Etcd, Mirrors

GiB = 1024**3
SPEC = load_job("name: web\ncontainers: {app: {image: web:1, memory: 64M}}\n")
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=GiB, disk=GiB),
    started_at=0,
)


def inputs(job_revision: int) -> PlanningInputs:
    """The cluster with job `web` at `job_revision` (0: no such job)."""
    job = JobRecord(spec=SPEC.model_copy(update={"num_instances": 2})) if job_revision else None
    return PlanningInputs(
        nodes=[NODE],
        allocations={},
        job=job,
        job_revision=job_revision,
        schedule=None,
        schedule_revision=0,
    )


def service(etcd_at: int, mirrors_at: int | None = None) -> tuple[JobService, Etcd]:
    etcd = Etcd(inputs(etcd_at))
    mirrors = Mirrors(inputs(etcd_at if mirrors_at is None else mirrors_at))
    store, mirrored = cast(ClusterStore, etcd), cast(ClusterMirrors, mirrors)
    return JobService(store, mirrored, node_name="n1"), etcd


@pytest.mark.parametrize(
    ("etcd_at", "mirrors_at", "check_index", "commits"),
    [
        pytest.param(7, None, 7, [7], id="at the index: written"),
        pytest.param(0, None, 0, [0], id="0 for a job that does not exist: created"),
        pytest.param(7, 5, 7, [7], id="mirrors behind the client: etcd is asked first"),
    ],
)
async def test_a_job_still_at_the_index_is_written(
    etcd_at: int, mirrors_at: int | None, check_index: int, commits: list[int]
) -> None:
    jobs, etcd = service(etcd_at, mirrors_at)
    result = await jobs.apply(SPEC, check_index=check_index)
    assert result.changed
    assert etcd.commits == commits


@pytest.mark.parametrize(
    ("etcd_at", "mirrors_at", "check_index", "commits", "detail"),
    [
        pytest.param(9, None, 7, [], "changed since modify index 7: it is at modify index 9",
                     id="changed"),
        pytest.param(0, None, 7, [], "changed since modify index 7: it does not exist",
                     id="deleted"),
        pytest.param(9, None, 0, [], "exists (modify index 9); --check-index 0 creates only",
                     id="0 for a job that exists"),
        pytest.param(9, 7, 7, [7], "it is at modify index 9",
                     id="a change the mirrors had not seen: the commit loses, then the check"),
    ],
)  # fmt: skip
async def test_a_job_no_longer_at_the_index_is_refused_with_409(
    etcd_at: int, mirrors_at: int | None, check_index: int, commits: list[int], detail: str
) -> None:
    jobs, etcd = service(etcd_at, mirrors_at)
    with pytest.raises(JobRejected) as refused:
        await jobs.apply(SPEC, check_index=check_index)
    assert (refused.value.kind, refused.value.status) == ("job-modified", 409)
    assert detail in refused.value.detail
    assert etcd.commits == commits  # never retried past the mismatch


async def test_a_plan_carries_the_index_and_the_job_it_was_made_against() -> None:
    jobs, etcd = service(7)
    result = await jobs.apply(SPEC, dry_run=True)
    assert (result.modify_index, result.changed, result.dry_run) == (7, True, True)
    assert result.previous == etcd.truth.job
    assert etcd.commits == []
    current = etcd.truth.job
    assert current is not None
    unchanged = await jobs.apply(current.spec, dry_run=True)
    assert (unchanged.modify_index, unchanged.changed) == (7, False)
