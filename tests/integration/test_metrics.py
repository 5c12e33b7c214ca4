"""GET /metrics on a real node: it parses, lists every documented metric, and moves with the node.

A job's start shows in the instance gauges, a healthcheck that fails in the
health counter (and, as the container is restarted for it, in the restarts
counter), a commit in the scheduler's counter; and no token, no metrics. A
commit that loses a race on a real etcd is counted as lost, in process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from ozymandias.cluster.records import Node, Resources
from ozymandias.jobs.service import JobService
from ozymandias.spec.loader import load_job
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from tests.support.etcd import EtcdServer
from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
# The sections of docs/metrics.md this suite checks (DNS and ingress have their own tests).
SECTIONS = ("Node", "Scheduler", "Deployments", "Health", "etcd")

# Nothing listens on port 9 of the pod: every check fails, and the container is
# restarted (restart: always) once it is found unhealthy.
FAILING_CHECK_JOB = """
name: {name}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 32M
    healthcheck: {{type: tcp, port: 9, interval: 1, timeout: 1, unhealthy_threshold: 1,
                  start_period: 0}}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def documented(sections: tuple[str, ...]) -> set[str]:
    """The metric names of these sections of docs/metrics.md."""
    names: set[str] = set()
    current = ""
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current in sections and (match := re.match(r"^\| `(ozy_[a-z0-9_]+)` \|", line)):
            names.add(match.group(1))
    return names


def scrape(node: NodeProcess) -> tuple[set[str], Samples]:
    """The families (named as exposed: counters with `_total`) and samples of /metrics."""
    reply = node.request("GET", "/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    families: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        families.add(family.name + ("_total" if family.type == "counter" else ""))
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return families, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_a_token(make_node: NodeFactory) -> None:
    node = make_node("metrics-auth")
    assert httpx.get(f"{node.api}/metrics", timeout=10).status_code == 401
    created = node.request("POST", "/v1/acl/tokens", json={"name": "scraper", "role": "read"})
    assert created.status_code in (200, 201), created.text
    reader = {"authorization": f"Bearer {created.json()['secret']}"}
    assert wait_until(
        lambda: httpx.get(f"{node.api}/metrics", headers=reader, timeout=10).status_code == 200,
        timeout=30,
        what="the read token to open /metrics",
    )


def test_every_documented_metric_is_exposed_and_moves_with_the_node(
    make_node: NodeFactory,
) -> None:
    node = make_node("metrics-1")
    families, before = scrape(node)
    assert documented(SECTIONS) - families == set()
    assert value(before, "ozy_node_capacity_memory_bytes") == 2 * 1024**3  # --memory 2G
    assert value(before, "ozy_node_instances", job="mweb", state="running") == 0

    assert node.apply(web_job("mweb", 2)).status_code in (200, 201)
    node.wait_running("mweb", 2)
    assert node.apply(FAILING_CHECK_JOB.format(name="mcheck")).status_code in (200, 201)

    def moved() -> Samples | None:
        _, now = scrape(node)
        restarted = value(now, "ozy_node_container_restarts_total", job="mcheck")
        running = value(now, "ozy_node_instances", job="mweb", state="running")
        refreshed = value(now, "ozy_node_lease_refresh_duration_seconds_count")
        return now if running == 2 and restarted >= 1 and refreshed >= 1 else None

    after = wait_until(
        moved, timeout=90, what="the instance gauge, the restarts counter, a lease refresh"
    )
    assert value(after, "ozy_node_allocated_memory_bytes") >= 3 * 32 * 1024**2
    assert value(after, "ozy_health_checks_total", type="tcp", result="fail") > value(
        before, "ozy_health_checks_total", type="tcp", result="fail"
    )
    assert value(after, "ozy_health_check_duration_seconds_count", type="tcp") >= 1
    won = value(after, "ozy_scheduler_commits_total", result="won", reason="")
    assert won >= value(before, "ozy_scheduler_commits_total", result="won", reason="") + 2
    assert value(after, "ozy_scheduler_plan_duration_seconds_count", source="service") >= 2
    assert value(after, "ozy_etcd_request_duration_seconds_count", operation="txn") >= 2
    assert value(after, "ozy_node_lease_refresh_age_seconds") < 15  # --lease-ttl 15


async def test_a_commit_that_loses_a_race_on_etcd_is_counted_lost(etcd: EtcdServer) -> None:
    """Two peers; one's mirrors stop before the other commits, so its first commit must lose."""
    etcd.wipe()
    connections = [Etcd(etcd.url) for _ in range(3)]
    lease = await connections[0].grant_lease(60)
    node = Node(
        name="metrics-sim",
        address="127.0.0.1",
        api_url="http://127.0.0.1:9",
        capacity=Resources(memory=1024**3, disk=1024**3),
        started_at=time.time(),
    )
    assert await ClusterStore(connections[0]).register_node(node, lease)
    stores = [ClusterStore(connection) for connection in connections[1:]]
    mirrors = [store.mirrors() for store in stores]
    tasks = [[asyncio.create_task(mirror.run()) for mirror in peer.all()] for peer in mirrors]
    try:
        for peer in mirrors:
            await asyncio.wait_for(peer.wait_synced(), 15)
        for task in tasks[1]:  # the second peer's view stops here: it has not seen the job
            task.cancel()
        first = JobService(stores[0], mirrors[0], node_name="p0")
        second = JobService(stores[1], mirrors[1], node_name="p1")
        lost_before = commits("lost")
        won_before = commits("won")
        await first.apply(load_job(web_job("mrace", 1)))
        await second.apply(load_job(web_job("mrace", 2)))  # planned as a create: loses
        assert commits("lost") - lost_before == 1
        assert commits("won") - won_before == 2  # the first peer's, and the second's re-plan
    finally:
        for task in [task for peer in tasks for task in peer]:
            task.cancel()
        await asyncio.gather(*[task for peer in tasks for task in peer], return_exceptions=True)
        with contextlib.suppress(Exception):
            await connections[0].revoke_lease(lease)
        for connection in connections:
            await connection.close()
        etcd.wipe()


def commits(result: str) -> float:
    return (
        REGISTRY.get_sample_value("ozy_scheduler_commits_total", {"result": result, "reason": ""})
        or 0.0
    )
