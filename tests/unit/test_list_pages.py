"""Each list in key order from a cursor (api/list_pages.py), over real mirrors of an
in-memory etcd: a page starts right after its cursor's key, even one deleted since."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ozymandias.api.list_pages import instance_entries, job_entries
from ozymandias.api.paging import Key, take_page
from ozymandias.cluster.records import InstanceState, InstanceStatus, JobRecord, Schedule
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from tests.unit.test_agent_with_fake_runtime import MemoryEtcd

# Job name -> its instances' indexes; "b" has none placed yet.
JOBS = {"a": [0, 1, 2], "b": [], "c": [0, 1], "d": [0, 1, 2, 10]}


@pytest.fixture
async def mirrors() -> AsyncIterator[ClusterMirrors]:
    etcd = MemoryEtcd()
    for name, indexes in JOBS.items():
        spec = load_job(
            f"name: {name}\nnumInstances: {len(indexes)}\ncontainers: {{app: {{image: x}}}}"
        )
        await etcd.put(keys.job(name), JobRecord(spec=spec, version=1).to_json())
        placements = {index: "n1" for index in indexes}
        await etcd.put(keys.schedule(name), Schedule(job=name, placements=placements).to_json())
        for index in indexes:
            status = InstanceStatus(job=name, index=index, node="n1", state=InstanceState.RUNNING)
            await etcd.put(keys.instance(name, index), status.to_json())
    found = ClusterStore(etcd).mirrors()  # type: ignore[arg-type]
    tasks = [asyncio.create_task(mirror.run()) for mirror in found.all()]
    try:
        async with asyncio.timeout(5):
            await found.wait_synced()
        yield found
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def instance_keys(mirrors: ClusterMirrors, after: Key | None, job: str | None = None) -> list[Key]:
    return [key for key, _ in instance_entries(mirrors, job, after)]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        pytest.param(None, ["a-0", "a-1", "a-2", "c-0", "c-1", "d-0", "d-1", "d-2", "d-10"]),
        pytest.param(("a", 2), ["c-0", "c-1", "d-0", "d-1", "d-2", "d-10"], id="end of a job"),
        pytest.param(("d", 1), ["d-2", "d-10"], id="by index, not as text"),
        pytest.param(("b", 5), ["c-0", "c-1", "d-0", "d-1", "d-2", "d-10"], id="a gone key"),
        pytest.param(("bb", 0), ["c-0", "c-1", "d-0", "d-1", "d-2", "d-10"], id="a gone job"),
        pytest.param(("d", 10), [], id="the last"),
    ],
)
async def test_instances_come_by_job_then_index_after_the_cursor(
    mirrors: ClusterMirrors, after: Key | None, expected: list[str]
) -> None:
    names = [item["name"] for _, item in instance_entries(mirrors, None, after)]
    assert names == expected


async def test_one_job_s_instances_page_within_it(mirrors: ClusterMirrors) -> None:
    items, last = take_page(instance_entries(mirrors, "d", None), 2)
    assert [item["name"] for item in items] == ["d-0", "d-1"] and last == ("d", 1)
    assert instance_keys(mirrors, last, "d") == [("d", 2), ("d", 10)]


async def test_jobs_come_by_name_after_the_cursor(mirrors: ClusterMirrors) -> None:
    assert [key for key, _ in job_entries(mirrors, None)] == [("a",), ("b",), ("c",), ("d",)]
    assert [key for key, _ in job_entries(mirrors, ("bb",))] == [("c",), ("d",)]
