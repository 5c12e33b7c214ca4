"""The control plane at the small scale scenario (issue #21): correctness only, never time.

bench/control_plane.py's cluster (100 simulated nodes, 1,000 jobs x 10
instances and a probe job, written straight into etcd through the store) is
followed by two real nodes on this host. Simulated nodes flip a few thousand
instance statuses at a bounded rate while the nodes follow, then 50 instances
come back in a new pod, at a new address; once that stops, every node must end
up exactly where etcd is:

- DNS: each job's name answers (real queries to the node's DNS port) the pod
  IPs of its healthy, running instances, and nothing else;
- ingress: HAProxy itself (its runtime socket) serves, in each job's pool,
  exactly those instances' addresses at the job's port;
- lists: `GET /v1/jobs`, `/v1/instances` and `/v1/nodes`, paged with small
  limits, add up on each node to its whole list (no duplicate, no gap, key
  order), which is etcd's; both nodes list the same instances.

A mismatch names the node, the job and what differs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from ozymandias.cluster.records import (
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Schedule,
)
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, job_name
from ozymandias.ingress.haproxy_config import http_pool_name
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd
from tests.support.etcd import EtcdServer
from tests.support.haproxy_state import servers_state, serving
from tests.support.machine import free_port
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.simulated_cluster import PROBE_JOB, Scenario, write_cluster
from tests.support.status_flips import FlipTarget, flip, flipper

SCENARIO = Scenario(nodes=100, jobs=1000, per_job=10)
FLIP_RATE = 200  # a second, as the bench's
FLIP_SECONDS = 15.0  # 3,000 flips
MOVES = 50  # instances that come back in a new pod, with a new address
SETTLE_SECONDS = 240.0  # generous: correctness is asserted here, not speed
PAGE_LIMITS = {"/v1/jobs": 37, "/v1/instances": 97, "/v1/nodes": 7}
SHOWN = 20  # mismatches printed at most, per check


@dataclass(frozen=True)
class Truth:
    """The cluster as etcd holds it."""

    jobs: dict[str, JobRecord]
    placements: dict[tuple[str, int], str]  # (job, index) -> node
    statuses: dict[tuple[str, int], InstanceStatus]
    nodes: set[str]
    # job -> where DNS and the ingress must send its traffic: its placed, running, healthy ones
    healthy: dict[str, set[str]]

    def healthy_ips(self, job: str) -> set[str]:
        return self.healthy.get(job, set())


async def read_truth(url: str) -> Truth:
    etcd = Etcd(url, timeout=60)
    try:
        _, jobs = await etcd.scan(keys.JOBS)
        _, schedules = await etcd.scan(keys.SCHEDULES)
        _, statuses = await etcd.scan(keys.INSTANCES)
        _, nodes = await etcd.scan(keys.NODES)
    finally:
        await etcd.close()
    records = [JobRecord.from_json(kv.value) for kv in jobs]
    placements = {
        (schedule.job, index): node
        for schedule in (Schedule.from_json(kv.value) for kv in schedules)
        for index, node in schedule.placements.items()
    }
    by_key = {
        (status.job, status.index): status
        for status in (InstanceStatus.from_json(kv.value) for kv in statuses)
    }
    healthy: dict[str, set[str]] = {}
    for key, status in by_key.items():
        if (
            key in placements
            and status.state is InstanceState.RUNNING
            and status.health is Health.HEALTHY
            and status.pod_ip
        ):
            healthy.setdefault(status.job, set()).add(status.pod_ip)
    return Truth(
        jobs={record.spec.name: record for record in records},
        placements=placements,
        statuses=by_key,
        nodes={Node.from_json(kv.value).name for kv in nodes},
        healthy=healthy,
    )


async def move_pods(url: str, targets: list[FlipTarget], lease: int) -> None:
    """Each target leaves DNS and the pools, then comes back at a new address, as an
    instance restarted in a new pod does (HAProxy's server address changes at runtime)."""
    etcd = Etcd(url, timeout=60)
    try:
        for target in targets:
            if target.status.health == Health.HEALTHY:
                await flip(etcd, target, lease)
            network, host = target.status.pod_ip.rsplit(".", 1)
            moved = f"{network}.{int(host) + 100}"  # the scenario's hosts end at .2-.11
            target.status = target.status.model_copy(update={"pod_ip": moved})
            await flip(etcd, target, lease)
    finally:
        await etcd.close()


async def flip_for(url: str, targets: list[FlipTarget], lease: int) -> int:
    etcd = Etcd(url, timeout=60)
    try:
        until = asyncio.get_running_loop().time() + FLIP_SECONDS
        return await flipper(etcd, targets, lease, FLIP_RATE, until)
    finally:
        await etcd.close()


def dns_answer(node: NodeProcess, name: str) -> set[str] | str:
    """The A records the node answers for `name`, or why it did not answer."""
    query = dns.message.make_query(name, "A")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=node.dns_port, timeout=2)
    except (OSError, dns.exception.Timeout) as error:
        return f"no answer ({error!r})"
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return f"rcode {dns.rcode.to_text(response.rcode())}"
    return {
        item.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.A
        for item in rrset
    }


def difference(expected: set[Any], got: set[Any]) -> str:
    return f"missing {sorted(expected - got)}, extra {sorted(got - expected)}"


def dns_mismatches(node: NodeProcess, truth: Truth) -> list[str]:
    found = []
    for job in sorted(truth.jobs):
        expected = truth.healthy_ips(job)
        got = dns_answer(node, job_name(job, DEFAULT_DOMAIN))
        if got != expected:
            detail = got if isinstance(got, str) else difference(expected, got)
            found.append(f"{node.name}: DNS of job {job}: {detail}")
    return found


def ingress_mismatches(node: NodeProcess, truth: Truth) -> list[str]:
    try:
        pools = servers_state(node.name)
    except (OSError, ValueError) as error:
        return [f"{node.name}: HAProxy not readable: {error!r}"]
    found = []
    for job, record in sorted(truth.jobs.items()):
        port = record.spec.http_ingress_port
        assert port is not None, job
        expected = {(ip, port) for ip in truth.healthy_ips(job)}
        servers = pools.get(http_pool_name(job))
        if servers is None:
            found.append(f"{node.name}: ingress of job {job}: no pool {http_pool_name(job)}")
        elif (got := serving(servers)) != expected:
            # Its slots as HAProxy has them: which one holds the address, in what state.
            slots = "; ".join(str(s) for s in servers if (s.address, s.port) != ("127.0.0.1", 1))
            found.append(
                f"{node.name}: ingress of job {job}: {difference(expected, got)} [{slots}]"
            )
    wanted = {http_pool_name(job) for job in truth.jobs}
    for pool in sorted(set(pools) - wanted):
        if stray := serving(pools[pool]):
            found.append(f"{node.name}: pool {pool} of no job serves {sorted(stray)}")
    return found


def settle(nodes: list[NodeProcess], truth: Truth) -> None:
    """Wait until every node's DNS and ingress match `truth` together; fail with the
    mismatches last found."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = [
            line
            for node in nodes
            for check in (dns_mismatches, ingress_mismatches)
            for line in check(node, truth)
        ]
        if not found:
            return
        if time.monotonic() > deadline:
            shown = "\n".join(found[:SHOWN])
            pytest.fail(f"{len(found)} mismatches after {SETTLE_SECONDS:.0f}s:\n{shown}")
        time.sleep(1)


def paged(node: NodeProcess, path: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of `path` from `node`."""
    return paged_across([node], path, limit)


def paged_across(nodes: list[NodeProcess], path: str, limit: int) -> list[list[dict[str, Any]]]:
    """Every page of `path`, asking the nodes in turn (a token works on any node)."""
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        params = {"limit": str(limit)} | ({"continue": token} if token else {})
        node = nodes[len(pages) % len(nodes)]
        response = node.request("GET", path, params=params)
        assert response.status_code == 200, (node.name, path, response.text)
        pages.append(response.json())
        token = response.headers.get("x-continue")
        if token is None:
            return pages
        assert len(pages) <= 100_000 // limit, f"{path}: pages never end"


def whole(node: NodeProcess, path: str) -> list[dict[str, Any]]:
    response = node.request("GET", path)
    assert response.status_code == 200, (node.name, path, response.text)
    return list(response.json())


def key_of(path: str, item: dict[str, Any]) -> tuple[str, int]:
    return (item["job"], item["index"]) if path == "/v1/instances" else (item["name"], 0)


def check_pages(node: NodeProcess, path: str, limit: int) -> list[dict[str, Any]]:
    """The node's pages add up to its whole list, in key order; that list."""
    listed = whole(node, path)
    pages = paged(node, path, limit)
    where = f"{node.name} {path}"
    assert all(len(page) == limit for page in pages[:-1]), f"{where}: a short page before the last"
    assert 0 < len(pages[-1]) <= limit, f"{where}: last page of {len(pages[-1])}"
    items = [item for page in pages for item in page]
    keys_seen = [key_of(path, item) for item in items]
    duplicates = sorted(key for key, count in Counter(keys_seen).items() if count > 1)
    assert not duplicates, f"{where}: in two pages: {duplicates[:SHOWN]}"
    assert keys_seen == sorted(keys_seen), f"{where}: pages out of key order"
    listed_keys = [key_of(path, item) for item in listed]
    assert keys_seen == listed_keys, (
        f"{where}: pages vs whole: {difference(set(listed_keys), set(keys_seen))}"
    )
    if path != "/v1/nodes":  # a node's own record moves (heartbeats, load); the rest stays
        assert items == listed, f"{where}: an item differs between its page and the whole"
    return listed


def check_lists(node: NodeProcess, truth: Truth) -> list[dict[str, Any]]:
    """The node's paged lists add up to etcd's; its instance list."""
    jobs = check_pages(node, "/v1/jobs", PAGE_LIMITS["/v1/jobs"])
    assert [item["name"] for item in jobs] == sorted(truth.jobs), node.name
    listed_nodes = check_pages(node, "/v1/nodes", PAGE_LIMITS["/v1/nodes"])
    assert {item["name"] for item in listed_nodes} == truth.nodes, node.name
    instances = check_pages(node, "/v1/instances", PAGE_LIMITS["/v1/instances"])
    assert {key_of("/v1/instances", item) for item in instances} == set(truth.placements)
    wrong = []
    for item in instances:
        key = key_of("/v1/instances", item)
        status = truth.statuses[key]
        seen = (item["node"], item["state"], item["health"], item["podIP"])
        wanted = (truth.placements[key], status.state.value, status.health.value, status.pod_ip)
        if seen != wanted:
            wrong.append(f"{node.name}: instance {key}: listed {seen}, etcd {wanted}")
    assert not wrong, "\n".join(wrong[:SHOWN])
    return instances


def test_every_node_matches_etcd_after_status_flips(
    etcd: EtcdServer, make_node: NodeFactory
) -> None:
    cluster = asyncio.run(write_cluster(etcd.url, SCENARIO, random.Random(21), free_port()))
    nodes = [make_node("scale-a"), make_node("scale-b")]
    truth = asyncio.run(read_truth(etcd.url))
    assert len(truth.statuses) == SCENARIO.instances + 1
    settle(nodes, truth)

    targets = [
        FlipTarget(status, cluster.addresses[status.node], cluster.ports[status.job])
        for status in cluster.statuses
    ]
    flipped = asyncio.run(flip_for(etcd.url, targets, cluster.lease))
    jobs_targets = [target for target in targets if target.status.job != PROBE_JOB]
    asyncio.run(move_pods(etcd.url, jobs_targets[:: len(jobs_targets) // MOVES], cluster.lease))
    truth = asyncio.run(read_truth(etcd.url))
    # What the flipper wrote last is what etcd holds: the truth the nodes are held to.
    assert flipped >= FLIP_RATE * FLIP_SECONDS / 2
    assert {(t.status.job, t.status.index): t.status.health for t in targets} == {
        key: status.health for key, status in truth.statuses.items()
    }
    settle(nodes, truth)
    first, *others = (check_lists(node, truth) for node in nodes)
    assert all(listed == first for listed in others), "the nodes list the instances otherwise"
    # A token from the node that started last, on one that scanned before it and
    # whose jobs have not changed since: it must catch up, not answer 503.
    for path in PAGE_LIMITS:
        pages = paged_across(nodes[::-1], path, PAGE_LIMITS[path])
        keys_seen = [key_of(path, item) for page in pages for item in page]
        listed_keys = [key_of(path, item) for item in whole(nodes[0], path)]
        assert keys_seen == listed_keys, f"{path} paged across nodes: {keys_seen[:SHOWN]}"
