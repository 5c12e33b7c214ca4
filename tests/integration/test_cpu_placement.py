"""CPU in placement, end to end: `--cpus` on a real node, a job's `cpus` counted against it."""

from __future__ import annotations

from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory


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
