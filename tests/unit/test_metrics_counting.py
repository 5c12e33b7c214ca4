"""What the scheduler, deployments, healthchecks and mirrors count, where it happens (fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import cast

import pytest
from prometheus_client import REGISTRY

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule
from ozymandias.health.checks import CheckResult
from ozymandias.health.monitor import HealthMonitor
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.replacement import Replacer
from ozymandias.jobs.service import JobService
from ozymandias.metrics.deployments import count_end
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import HealthCheck
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd as RealEtcd
from ozymandias.store.etcd import KeyValue, StoreUnavailable, WatchEvent
from ozymandias.store.mirror import Mirror
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.job_service_fakes import Etcd, Mirrors

GiB = 1024**3
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=GiB, disk=GiB),
    started_at=0,
)
SMALL = load_job("name: web\ncontainers: {app: {image: web:1, memory: 64M}}\n")
HUGE = load_job("name: web\ncontainers: {app: {image: web:1, memory: 4G}}\n")


def inputs(job_revision: int) -> PlanningInputs:
    job = JobRecord(spec=SMALL.model_copy(update={"num_instances": 2})) if job_revision else None
    return PlanningInputs(
        nodes=[NODE],
        allocations={},
        job=job,
        job_revision=job_revision,
        schedule=None,
        schedule_revision=0,
    )


def service(etcd_at: int, mirrors_at: int) -> JobService:
    store = cast(ClusterStore, Etcd(inputs(etcd_at)))
    mirrors = cast(ClusterMirrors, Mirrors(inputs(mirrors_at)))
    return JobService(store, mirrors, node_name="n1")


@contextmanager
def counting(name: str, **labels: str) -> Iterator[list[float]]:
    """Yields a list that holds, after the block, how much the sample moved in it."""
    before = REGISTRY.get_sample_value(name, labels) or 0.0
    moved: list[float] = []
    yield moved
    moved.append((REGISTRY.get_sample_value(name, labels) or 0.0) - before)


COMMITS = "ozy_scheduler_commits_total"


async def test_a_lost_commit_race_counts_lost_then_won() -> None:
    # The mirrors are behind etcd: the first commit loses, the re-planned one wins.
    jobs = service(etcd_at=9, mirrors_at=7)
    with (
        counting(COMMITS, result="lost", reason="") as lost,
        counting(COMMITS, result="won", reason="") as won,
    ):
        await jobs.apply(SMALL)
    assert (lost, won) == ([1.0], [1.0])


async def test_a_job_changed_since_its_index_counts_a_conflict() -> None:
    jobs = service(etcd_at=9, mirrors_at=9)
    with counting(COMMITS, result="conflict", reason="") as conflict, pytest.raises(JobRejected):
        await jobs.apply(SMALL, check_index=7)
    assert conflict == [1.0]


@pytest.mark.parametrize(("dry_run", "counted"), [(False, 1.0), (True, 0.0)])
async def test_a_job_that_does_not_fit_counts_rejected_with_its_problem_type(
    dry_run: bool, counted: float
) -> None:
    jobs = service(etcd_at=0, mirrors_at=0)
    with (
        counting(COMMITS, result="rejected", reason="insufficient-memory") as rejected,
        counting("ozy_scheduler_plan_duration_seconds_count", source="service") as plans,
        pytest.raises(JobRejected),
    ):
        await jobs.apply(HUGE, dry_run=dry_run)
    assert rejected == [counted]
    assert plans == [1.0]  # planned either way


@pytest.mark.parametrize(
    ("status", "counted"),
    [("successful", 1.0), ("failed", 1.0), ("reverted", 1.0), ("running", 0.0)],
)
def test_a_deployment_is_counted_by_how_it_ended(status: str, counted: float) -> None:
    with counting("ozy_deployments_total", job="metrics-test", result=status) as ended:
        count_end("metrics-test", status)
    assert ended == [counted]


async def test_every_healthcheck_is_counted_by_result_and_timed() -> None:
    results = [CheckResult(False, "refused"), CheckResult(True, "ok")]
    done = asyncio.Event()

    async def probe() -> CheckResult:
        if len(results) == 1:
            done.set()
        return results.pop(0) if results else CheckResult(True, "ok")

    check = HealthCheck(type="tcp", port=80, interval=0.01, start_period=0)
    monitor = HealthMonitor(check, probe, lambda state, result: None)
    with (
        counting("ozy_health_checks_total", type="tcp", result="fail") as failed,
        counting("ozy_health_check_duration_seconds_count", type="tcp") as timed,
    ):
        monitor.start()
        await asyncio.wait_for(done.wait(), timeout=10)
        monitor.stop()
    assert failed == [1.0]
    assert timed[0] >= 1.0


class BreakingEtcd:
    """Scans to nothing; its watch breaks `breaks` times, then blocks as a healthy one does."""

    def __init__(self, breaks: int) -> None:
        self.breaks = breaks
        self.watches = 0
        self.followed = asyncio.Event()

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        return 10, []

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        self.watches += 1
        if self.watches <= self.breaks:
            raise StoreUnavailable("the watch broke")
        self.followed.set()
        await asyncio.Event().wait()
        yield WatchEvent(prefix, None, start_revision)  # never reached: it blocks above


async def test_each_broken_watch_of_a_mirror_is_counted_as_a_reconnect() -> None:
    etcd = BreakingEtcd(breaks=2)
    mirror: Mirror[bytes] = Mirror(cast(RealEtcd, etcd), b"/metrics-test/", lambda _, raw: raw)
    with counting("ozy_etcd_watch_reconnects_total", prefix="/metrics-test/") as reconnects:
        task = asyncio.create_task(mirror.run())
        try:
            await asyncio.wait_for(etcd.followed.wait(), timeout=10)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert reconnects == [2.0]


async def test_a_re_placement_counts_the_instances_it_moved() -> None:
    live = Node(
        name="n2",
        address="10.0.0.2",
        api_url="http://10.0.0.2:7070",
        capacity=Resources(memory=GiB, disk=GiB),
        started_at=0,
    )
    job = JobRecord(spec=SMALL.model_copy(update={"num_instances": 2}))
    # Both instances were on n1, which is gone: n2 takes them.
    lost = PlanningInputs(
        nodes=[live],
        allocations={"n1": (Resources(memory=128 * 1024**2), 3)},
        job=job,
        job_revision=5,
        schedule=Schedule(job="web", placements={0: "n1", 1: "n1"}),
        schedule_revision=6,
    )
    store, mirrors = cast(ClusterStore, Etcd(lost)), cast(ClusterMirrors, Mirrors(lost))
    with counting("ozy_scheduler_replacements_total", job="web") as moved:
        await Replacer(store, mirrors, node_name="n2")._place_job("web")
    assert moved == [2.0]
