"""The agent holds a job's starts until its dependsOn hold, reporting `waiting` once per
reason, and starts them when the dependency is ready (fake runtime, in-memory etcd)."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import InstanceState, InstanceStatus, JobRecord, Schedule
from ozymandias.spec.loader import job_from_data
from ozymandias.store import keys
from tests.unit.test_agent_with_fake_runtime import (
    NODE,
    Cluster,
    eventually,
    running,
    state_is,
)


async def put_dependent(cluster: Cluster) -> None:
    spec = job_from_data(
        {
            "name": "web",
            "dependsOn": [{"job": "db", "condition": "service_healthy"}],
            "containers": {"app": {"image": "img"}},
        }
    )
    await cluster.etcd.put(keys.job("web"), JobRecord(spec=spec).to_json())
    await cluster.etcd.put(
        keys.schedule("web"), Schedule(job="web", placements={0: NODE}).to_json()
    )


async def test_a_dependent_waits_then_starts(quick_back_off: None) -> None:
    cluster = Cluster()
    writes: list[InstanceStatus] = []
    put = cluster.store.put_instance_status

    async def counting(status: InstanceStatus, lease_id: int) -> None:
        # Into etcd too, as a node's real store does: the agent reads them from its mirror.
        writes.append(status)
        await put(status, lease_id)
        await cluster.put_status(status)

    cluster.store.put_instance_status = counting  # type: ignore[method-assign]
    await put_dependent(cluster)
    async with running(cluster):
        waiting = await eventually(
            lambda: (s := cluster.status("web")) and s.state is InstanceState.WAITING and s,
            "web waiting",
        )
        assert waiting.reason == "waiting for job db to be healthy: it does not exist"
        assert not cluster.runtime.pods
        await cluster.put_job("db")
        await eventually(state_is(cluster, "db", InstanceState.RUNNING), "db running")
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web running")
    web_waits = [w for w in writes if w.job == "web" and w.state is InstanceState.WAITING]
    # One report per reason: "does not exist", then perhaps "0 of 1" while db starts.
    assert 1 <= len(web_waits) <= 2, [w.reason for w in web_waits]


@pytest.fixture
def quick_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ozymandias.agent.node_agent.DEPENDENCY_RECHECK_SECONDS", 0.05)
