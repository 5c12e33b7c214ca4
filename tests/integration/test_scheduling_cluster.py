"""Scheduling across three real node daemons on one machine, talking only through etcd.

One cluster serves the whole module (starting three daemons is the slow part);
after each test every job is deleted and the test waits until the nodes hold
no pods and no allocations, so each test starts from an empty cluster.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support.etcd import EtcdServer
from tests.support.jobs import web_job
from tests.support.nodes import NodeProcess, remove_everything_of_node, unused_pod_subnets
from tests.support.podman import containers_with_label, running_spec_containers
from tests.support.waiting import wait_until

ZONES = {"sched-a": "a", "sched-b": "b", "sched-c": "c"}
NODE_MEMORY = "1G"


class Cluster:
    def __init__(self, nodes: list[NodeProcess]) -> None:
        self.nodes = nodes
        self.by_name = {node.name: node for node in nodes}

    @property
    def names(self) -> list[str]:
        return [node.name for node in self.nodes]

    def allocated_memory(self) -> dict[str, int]:
        listed = self.nodes[0].request("GET", "/v1/nodes").json()
        return {item["name"]: item["allocated"]["memory"] for item in listed}


def sees_nodes(node: NodeProcess, count: int) -> bool:
    return len(node.request("GET", "/v1/nodes").json()) == count


@pytest.fixture(scope="module")
def cluster(
    etcd: EtcdServer, example_images: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Three `ozy node run` daemons, one per zone of one region, with equal memory."""
    etcd.wipe()
    work_dir: Path = tmp_path_factory.mktemp("scheduling-cluster")
    subnets = unused_pod_subnets(len(ZONES))
    nodes = [
        NodeProcess(
            name=name,
            etcd_url=etcd.url,
            work_dir=work_dir,
            pod_subnet=subnet,
            memory=NODE_MEMORY,
            labels=f"zone={zone},region=r1",
        )
        for (name, zone), subnet in zip(ZONES.items(), subnets, strict=True)
    ]
    try:
        for node in nodes:  # start all three, then wait for them together
            node.start(wait=False)
        for node in nodes:
            wait_until(node.answers, timeout=60, what=f"node {node.name}'s API ({node.log_path})")
        cluster = Cluster(nodes)
        for node in nodes:  # every node sees all three before any test submits through it
            wait_until(
                partial(sees_nodes, node, len(nodes)),
                timeout=30,
                what=f"{node.name} to see all nodes",
            )
        yield cluster
    finally:
        for node in nodes:
            node.stop()
        for node in nodes:
            remove_everything_of_node(node.name)
        etcd.wipe()


@pytest.fixture(autouse=True)
def empty_cluster(cluster: Cluster) -> Iterator[None]:
    """Each test starts and leaves the cluster with no jobs, pods or allocations."""
    assert cluster.allocated_memory() == dict.fromkeys(cluster.names, 0)
    yield
    api = cluster.nodes[0]
    for job in api.request("GET", "/v1/jobs").json():
        assert api.request("DELETE", f"/v1/jobs/{job['name']}").status_code == 200
    wait_until(
        lambda: not any(containers_with_label(f"ozy.node={name}") for name in cluster.names),
        timeout=60,
        what="every pod of the module's nodes to be removed",
    )
    wait_until(
        lambda: cluster.allocated_memory() == dict.fromkeys(cluster.names, 0),
        timeout=10,
        what="allocations back to zero",
    )


def placements(node: NodeProcess, job: str) -> dict[int, str]:
    response = node.request("GET", f"/v1/jobs/{job}")
    assert response.status_code == 200, response.text
    return {int(index): name for index, name in response.json()["placements"].items()}


def pods_by_node(job: str) -> Counter[str]:
    """How many pods of the job podman runs, by the node label on their containers."""
    pods = {(c["Labels"]["ozy.node"], c["Labels"]["ozy.pod"]) for c in running_spec_containers(job)}
    return Counter(node for node, _ in pods)


def assert_nothing_written(etcd: EtcdServer, cluster: Cluster, job: str) -> None:
    """No job, schedule or allocation in etcd itself, and no node's API knows the job."""
    assert etcd.keys(f"/ozy/jobs/{job}") == []
    assert etcd.keys(f"/ozy/schedules/{job}") == []
    for node in cluster.nodes:
        assert node.request("GET", f"/v1/jobs/{job}").status_code == 404
    assert cluster.allocated_memory() == dict.fromkeys(cluster.names, 0)


def assert_problem(response: Any, status: int, kind: str, title: str, job: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith(f"#{kind}"), problem
    assert problem["title"] == title
    assert problem["status"] == status
    assert problem["job"] == job
    return problem


def test_a_three_instance_job_spreads_one_instance_per_node(cluster: Cluster) -> None:
    submit_to, read_from = cluster.nodes[0], cluster.nodes[2]
    response = submit_to.apply(web_job("spread", 3))
    assert response.status_code == 201, response.text
    committed = {int(index): name for index, name in response.json()["placements"].items()}
    assert sorted(committed) == [0, 1, 2]
    assert sorted(committed.values()) == cluster.names

    # Another node, which learns of the job only through etcd, agrees and runs it.
    wait_until(lambda: read_from.request("GET", "/v1/jobs/spread").status_code == 200)
    assert placements(read_from, "spread") == committed
    instances = read_from.wait_running("spread", 3)
    for instance in instances:
        assert instance["node"] == committed[instance["index"]]
        subnet = ipaddress.ip_network(cluster.by_name[instance["node"]].pod_subnet)
        assert ipaddress.ip_address(instance["podIP"]) in subnet, instance

    wait_until(
        lambda: pods_by_node("spread") == Counter(cluster.names),
        timeout=30,
        what="one running pod of spread on each node",
    )
    by_node = Counter(c["Labels"]["ozy.node"] for c in running_spec_containers("spread"))
    assert by_node == Counter(cluster.names)  # one container (app) per pod
    allocated = cluster.allocated_memory()
    assert allocated == dict.fromkeys(cluster.names, 32 * 1024 * 1024)
    # Any node serves any instance's logs: its own, or fetched from the node that runs it.
    for index in committed:
        logs = read_from.request("GET", f"/v1/instances/spread-{index}/logs")
        assert logs.status_code == 200, logs.text
        assert logs.headers["content-type"].startswith("text/plain")
        # The node that runs it is asked the same query: its times, its missing previous run.
        params = {"timestamps": "true", "since": "1h"}
        stamped = read_from.request("GET", f"/v1/instances/spread-{index}/logs", params=params)
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ozy-example-web: listening", stamped.text)
        previous = read_from.request(
            "GET", f"/v1/instances/spread-{index}/logs", params={"previous": "true"}
        )
        assert previous.status_code == 404, previous.text
        assert previous.json()["type"].endswith("#previous-run-not-found")


@pytest.mark.parametrize(
    ("job", "constraint", "node"),
    [
        ("pinned-b", "nodeSelector: {zone: b}", "sched-b"),
        ("pinned-c", "affinity: [{key: zone, operator: In, values: [c]}]", "sched-c"),
    ],
    ids=["nodeSelector", "affinity"],
)
def test_a_constraint_pins_a_job_to_one_zone(
    cluster: Cluster, job: str, constraint: str, node: str
) -> None:
    # Without the constraint, anti-affinity would spread two instances over two nodes.
    response = cluster.nodes[0].apply(web_job(job, 2, extra=constraint))
    assert response.status_code == 201, response.text
    assert placements(cluster.nodes[0], job) == {0: node, 1: node}
    cluster.nodes[0].wait_running(job, 2)
    wait_until(
        lambda: pods_by_node(job) == Counter({node: 2}),
        timeout=30,
        what=f"two running pods of {job} on {node} only",
    )
    expected = dict.fromkeys(cluster.names, 0) | {node: 2 * 32 * 1024 * 1024}
    assert cluster.allocated_memory() == expected


def test_an_unsatisfiable_constraint_is_rejected_with_what_the_nodes_have(
    cluster: Cluster, etcd: EtcdServer
) -> None:
    job = web_job("nowhere", 1, extra="affinity: [{key: zone, operator: In, values: [eu-west-1a]}]")
    problem = assert_problem(
        cluster.nodes[1].apply(job),
        422,
        "unsatisfiable-constraints",
        "Unsatisfiable scheduling constraints for job",
        "nowhere",
    )
    assert problem["detail"] == (
        "no node matches zone In [eu-west-1a]: "
        "1 node has zone=a, 1 node has zone=b, 1 node has zone=c"
    )
    assert_nothing_written(etcd, cluster, "nowhere")


def test_an_oversized_job_is_rejected_and_nothing_is_written(
    cluster: Cluster, etcd: EtcdServer
) -> None:
    # A pod of 256M + 128M = 384M: each 1G node fits two (768M), not a third. So
    # eight pods need 3G, which the three nodes have in total, but only six whole
    # pods (2.25G) can be allocated.
    job = """
name: oversized
numInstances: 8
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 256M
  sidecar:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    memory: 128M
"""
    problem = assert_problem(
        cluster.nodes[2].apply(job),
        422,
        "insufficient-memory",
        "Insufficient memory for job",
        "oversized",
    )
    assert problem["detail"] == (
        "Job requires 3G of memory (8 × 384M) but only 2.25G can be allocated"
        " (6 instances fit; 3G free on 3 nodes)"
    )
    assert set(problem) == {"type", "title", "status", "detail", "job", "placement"}
    assert problem["placement"] == {
        "nodesEvaluated": 3,
        "nodesFiltered": {},
        "nodesExhausted": {"memory": 3},
        "instancesToPlace": 8,
        "instancesFitting": 6,
    }
    assert_nothing_written(etcd, cluster, "oversized")

    # A plan of it says so, as data.
    response = cluster.nodes[2].request("POST", "/v1/jobs/oversized/plan", content=job)
    assert response.status_code == 200, response.text
    assert response.json()["fits"] is False
    assert response.json()["rejection"]["detail"] == problem["detail"]

    # Six whole pods do fit: a plan of six places two on each node.
    fits = job.replace("numInstances: 8", "numInstances: 6")
    response = cluster.nodes[2].request("POST", "/v1/jobs/oversized/plan", content=fits)
    assert response.status_code == 200, response.text
    assert response.json()["fits"] is True
    assert Counter(response.json()["placements"].values()) == Counter(dict.fromkeys(ZONES, 2))
    assert_nothing_written(etcd, cluster, "oversized")


def test_a_plan_returns_the_placements_and_writes_nothing(
    cluster: Cluster, etcd: EtcdServer
) -> None:
    api = cluster.nodes[1]
    response = api.request("POST", "/v1/jobs/dry/plan", content=web_job("dry", 3))
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["changed"], plan["created"], plan["modifyIndex"]) == (True, True, 0)
    assert plan["counts"] == {"created": 3}
    assert sorted(plan["placements"]) == ["0", "1", "2"]
    assert sorted(plan["placements"].values()) == cluster.names

    assert_nothing_written(etcd, cluster, "dry")
    assert api.request("GET", "/v1/jobs").json() == []

    # The same plan, committed for real, lands where the dry run said.
    committed = api.apply(web_job("dry", 3))
    assert committed.status_code == 201, committed.text
    assert committed.json()["placements"] == plan["placements"]
