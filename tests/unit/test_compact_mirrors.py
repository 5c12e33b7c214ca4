"""The mirrors' reads give back the records written, though they keep them compact."""

from __future__ import annotations

import asyncio
from typing import cast

from ozymandias.cluster.compact_status import compact
from ozymandias.cluster.records import (
    ContainerStatus,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
)
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.etcd import Etcd
from tests.unit.test_agent_with_fake_runtime import MemoryEtcd


def status(job: str, index: int, node: str) -> InstanceStatus:
    return InstanceStatus(
        job=job,
        index=index,
        node=node,
        state=InstanceState.RUNNING,
        health=Health.HEALTHY,
        pod_ip=f"10.0.0.{index + 2}",
        containers=[ContainerStatus(name="web", state="running", restarts=index)],
        pod_id=f"pod-{job}-{index}",
        updated_at=1.5,
    )


async def test_statuses_and_jobs_read_back_as_written() -> None:
    etcd = MemoryEtcd()
    written = [status("web", 0, "n1"), status("web", 1, "n2"), status("db", 0, "n1")]
    for one in written:
        await etcd.put(keys.instance(one.job, one.index), one.to_json())
    job = JobRecord(spec=load_job("name: web\ncontainers: {app: {image: web:1}}\n"), version=3)
    await etcd.put(keys.job("web"), job.to_json())
    mirrors = ClusterMirrors.following(cast(Etcd, etcd))
    tasks = [asyncio.create_task(mirrors.instances.run()), asyncio.create_task(mirrors.jobs.run())]
    try:
        async with asyncio.timeout(5):
            await mirrors.instances.wait_synced()
            await mirrors.jobs.wait_synced()
            moved = written[1].model_copy(update={"health": Health.UNHEALTHY})
            await etcd.put(keys.instance("web", 1), moved.to_json())
            await mirrors.instances.wait_for_revision(etcd.revision)
        now = [written[0], moved, written[2]]
        assert mirrors.instance_status("web", 1) == moved
        assert mirrors.instance_status("web", 2) is None
        assert mirrors.instance_statuses("web") == now[:2]
        assert sorted(mirrors.instance_statuses(), key=lambda s: (s.job, s.index)) == [
            now[2],
            *now[:2],
        ]
        assert mirrors.node_statuses("n1") == [now[2], now[0]]  # in key order
        assert mirrors.compact_statuses("db") == [compact(now[2])]
        assert mirrors.job("web") == job
        assert [s.to_json() for s in mirrors.instance_statuses("web")] == [
            s.to_json() for s in now[:2]
        ]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
