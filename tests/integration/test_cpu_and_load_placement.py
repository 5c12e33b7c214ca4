"""CPU and load in placement, end to end: `--cpus` on a real node, a job's `cpus` counted
against it; the load a node reports in its record, and peers passing a busy node over."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory
from tests.support.waiting import wait_until


def cpu_job(name: str, count: int, cpus: float) -> str:
    return web_job(name, count) + f"    cpus: {cpus}\n"


def test_cpus_count_against_the_nodes_cores_and_a_job_that_does_not_fit_is_refused(
    make_node: NodeFactory,
) -> None:
    node = make_node("cpu-a", extra_args=("--cpus", "1"))
    [record] = node.request("GET", "/v1/nodes").json()
    assert record["capacity"]["cpu"] == 1000 and record["allocated"]["cpu"] == 0

    response = node.apply(cpu_job("cpu-big", 3, 0.4))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("#insufficient-cpu")
    assert problem["title"] == "Insufficient CPU for job"
    assert problem["detail"] == (
        "Job requires 1.2 cores of cpu (3 × 0.4 cores) but only 0.8 cores can be allocated"
        " (2 instances fit; 1 core free on 1 node)"
    )
    assert problem["placement"]["nodesExhausted"] == {"cpu": 1}
    assert node.request("GET", "/v1/jobs/cpu-big").status_code == 404

    assert node.apply(cpu_job("cpu-fits", 2, 0.4)).status_code in (200, 201)
    [record] = node.request("GET", "/v1/nodes").json()
    assert record["allocated"]["cpu"] == 800 and record["free"]["cpu"] == 200
    # A job without `cpus` has no quota and takes none of the cores.
    assert node.apply(web_job("cpu-none", 1)).status_code in (200, 201)
    node.wait_running("cpu-fits", 2)
    node.wait_running("cpu-none", 1)
    [record] = node.request("GET", "/v1/nodes").json()
    assert record["allocated"]["cpu"] == 800


def test_a_node_reporting_a_high_load_is_passed_over_until_its_load_drops(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    # Every node on this host would read the same /proc/loadavg (and this host's real
    # load varies with whatever else runs): each node reads its own file, as a node in
    # a container reads LXCFS's, so their loads can differ.
    busy = f"{8.0 * (os.cpu_count() or 1)} 1.00 1.00 1/100 4242\n"
    idle = "0.00 1.00 1.00 1/100 4242\n"
    load_a, load_b = tmp_path / "loadavg-a", tmp_path / "loadavg-b"
    load_a.write_text(busy)
    load_b.write_text(idle)
    a = make_node("load-a", extra_args=("--loadavg-file", str(load_a)))
    make_node("load-b", extra_args=("--loadavg-file", str(load_b)))

    def loads() -> dict[str, float]:
        return {n["name"]: n["load"] for n in a.request("GET", "/v1/nodes").json()}

    assert loads() == {"load-a": 8.0, "load-b": 0.0}
    # All else equal, "load-a" would win the tie on its name.
    assert a.apply(web_job("load-first", 1)).status_code in (200, 201)
    assert [i["node"] for i in a.instances("load-first")] == ["load-b"]

    # The load moves: each node reports it within its 10 s period, and the next
    # instance goes to "load-a", though "load-b", fuller, would win on bin packing.
    load_a.write_text(idle)
    load_b.write_text(busy)
    wait_until(
        lambda: loads() == {"load-a": 0.0, "load-b": 8.0}, timeout=40, what="the new loads"
    )
    assert a.apply(web_job("load-second", 1)).status_code in (200, 201)
    assert [i["node"] for i in a.instances("load-second")] == ["load-a"]


def test_rebalance_plan_moves_instances_onto_a_new_node_up_to_the_mean(
    make_node: NodeFactory,
) -> None:
    first = make_node("rebal-a")
    make_node("rebal-b")
    for job in ("rebal-web", "rebal-api"):
        assert first.apply(web_job(job, 3, memory="64M")).status_code in (200, 201)
    # Instances of a job mid-deployment never move: wait for both to finish.
    def deployed() -> bool:
        statuses = [
            first.request("GET", f"/v1/jobs/{job}/deployment").json()["status"]
            for job in ("rebal-web", "rebal-api")
        ]
        return statuses == ["successful", "successful"]

    wait_until(deployed, timeout=120, what="both deployments to succeed")
    placed_before = {job: first.instances(job) for job in ("rebal-web", "rebal-api")}
    make_node("rebal-c")

    plan = first.request("GET", "/v1/rebalance").json()
    assert plan["moves"], plan
    assert {move["to"] for move in plan["moves"]} == {"rebal-c"}
    after = {node["name"]: node["after"]["memory"] // 2**20 for node in plan["nodes"]}
    assert after == {"rebal-a": 128, "rebal-b": 128, "rebal-c": 128}  # 2/2/2 by memory
    assert len({move["job"] for move in plan["moves"]}) == 2  # one of each job, spread

    cli = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "rebalance", "--plan", "--api", first.api],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "rebal-c" in cli.stdout and "at least" in cli.stdout
    # Nothing was written: every instance is where it was.
    for job, instances in placed_before.items():
        assert [i["node"] for i in first.instances(job)] == [i["node"] for i in instances]
    refused_query = first.request("GET", "/v1/rebalance", params={"threshold": "2"})
    assert refused_query.status_code == 400
    assert refused_query.headers["content-type"] == "application/problem+json"
