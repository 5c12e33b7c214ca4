"""Paged lists on a real node: every list's pages add up to the whole, with no duplicates.

The cluster state is written straight into etcd through the store, as the
nodes write it (simulated nodes under a lease, jobs, schedules, instance
statuses), so hundreds of instances cost no pods.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ozymandias.cluster.records import (
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
)
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from tests.support.etcd import EtcdServer
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

GHOSTS = 12
JOBS = 30
PER_JOB = 7
MiB = 1024 * 1024


async def write_cluster(etcd_url: str) -> int:
    """Simulated nodes, each job placed on them with a running status; their lease's id."""
    client = Etcd(etcd_url)
    try:
        store = ClusterStore(client)
        lease = await client.grant_lease(300)
        for n in range(GHOSTS):
            node = Node(
                name=f"pg-ghost-{n:02d}",
                address="192.0.2.1",
                api_url="http://192.0.2.1:1",
                capacity=Resources(memory=4096 * MiB, disk=10240 * MiB),
                started_at=time.time(),
            )
            assert await store.register_node(node, lease)
        for j in range(JOBS):
            name = f"pg-job-{j:02d}"
            spec = load_job(
                f"name: {name}\nnumInstances: {PER_JOB}\ncontainers: {{app: {{image: x}}}}"
            )
            await client.put(keys.job(name), JobRecord(spec=spec, version=1).to_json())
            placements = {i: f"pg-ghost-{(j + i) % GHOSTS:02d}" for i in range(PER_JOB)}
            schedule = Schedule(job=name, placements=placements)
            await client.put(keys.schedule(name), schedule.to_json())
            for index, node_name in placements.items():
                status = InstanceStatus(
                    job=name,
                    index=index,
                    node=node_name,
                    state=InstanceState.RUNNING,
                    health=Health.HEALTHY,
                    pod_ip=f"10.250.{j}.{index + 2}",
                    spec_version=1,
                )
                await store.put_instance_status(status, lease)
        return lease
    finally:
        await client.close()


async def revoke(etcd_url: str, lease: int) -> None:
    client = Etcd(etcd_url)
    try:
        await client.revoke_lease(lease)
    finally:
        await client.close()


def pages(node: NodeProcess, path: str, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following X-Continue; each page but the last is full."""
    found: list[list[dict[str, Any]]] = []
    token = None
    while True:
        query = {**params, "limit": str(limit)} | ({"continue": token} if token else {})
        response = node.request("GET", path, params=query)
        assert response.status_code == 200, response.text
        found.append(response.json())
        token = response.headers.get("x-continue")
        if token is None:
            return found
        assert len(found[-1]) == limit, "a page before the last is full"
        assert len(found) <= 1000, "paging ends"


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


@pytest.fixture
def cluster(make_node: NodeFactory, etcd: EtcdServer) -> Iterator[NodeProcess]:
    node = make_node("pg-n1")
    lease = asyncio.run(write_cluster(etcd.url))
    try:
        wait_until(
            lambda: len(node.request("GET", "/v1/instances").json()) == JOBS * PER_JOB,
            timeout=30,
            what="the node to mirror every instance",
        )
        yield node
    finally:
        asyncio.run(revoke(etcd.url, lease))


@pytest.mark.parametrize("limit", [1, 7, 50, 5000])
def test_every_list_s_pages_add_up_to_the_whole(cluster: NodeProcess, limit: int) -> None:
    for path, params in [
        ("/v1/jobs", {}),
        ("/v1/nodes", {}),
        ("/v1/instances", {}),
        ("/v1/instances", {"job": "pg-job-03"}),
    ]:
        whole = cluster.request("GET", path, params=params).json()
        paged = [item for page in pages(cluster, path, limit, **params) for item in page]
        assert len(names(paged)) == len(set(names(paged))), f"{path}: no duplicates"
        assert sorted(names(paged)) == sorted(names(whole)), f"{path}: the pages are the whole"
        if path == "/v1/instances":
            keys_in_order = [(item["job"], item["index"]) for item in paged]
            assert keys_in_order == sorted(keys_in_order), "instances by job, then index"
        else:
            assert names(paged) == sorted(names(paged)), f"{path}: by name"
    assert len(cluster.request("GET", "/v1/nodes").json()) == GHOSTS + 1


def test_bad_limits_and_tokens_are_refused_as_problems(cluster: NodeProcess) -> None:
    foreign = base64.urlsafe_b64encode(json.dumps([["pg-job-01"], 1]).encode()).decode()
    for params in [
        {"limit": "0"},
        {"limit": "5001"},
        {"limit": "ten"},
        {"limit": "5", "continue": "not a token"},
        # A jobs page's token, given to the instances list.
        {"limit": "5", "continue": foreign},
        {"limit": "5", "continue": "x" * 2000},
    ]:
        response = cluster.request("GET", "/v1/instances", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_the_cli_fetches_page_by_page(cluster: NodeProcess) -> None:
    command = [sys.executable, "-m", "ozymandias.cli.main", "get", "instances"]
    options = ["--chunk-size", "9", "-o", "json", "--api", cluster.api]
    result = subprocess.run(
        [*command, *options], capture_output=True, text=True, timeout=60, env=os.environ.copy()
    )
    assert result.returncode == 0, result.stderr
    shown = names(json.loads(result.stdout))
    assert sorted(shown) == sorted(names(cluster.request("GET", "/v1/instances").json()))
    assert len(shown) == len(set(shown)) == JOBS * PER_JOB
