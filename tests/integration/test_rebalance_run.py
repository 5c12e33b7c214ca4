"""`ozy rebalance` carrying out its moves on live nodes: a third node joins two that run six
instances of two jobs, and the moves bring it to 2/2/2 by memory with no failed request."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

from tests.support.client_loop import ClientLoop
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

JOBS = ("rbrun-web", "rbrun-api")
# Reached through the ingress; healthy once its HTTP check passed, and for 1s before
# the instance it replaces stops.
JOB = """
name: {name}
numInstances: 3
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 64M
    ports: ["80:3000"]
    healthcheck:
      {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1,
       unhealthy_threshold: 2, start_period: 1}}
update: {{min_healthy_time: 1s, healthy_deadline: 30s, progress_deadline: 60s}}
"""


def ozy(node: NodeProcess, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "ozymandias.cli.main", *arguments, "--api", node.api]


def deployed(node: NodeProcess) -> bool:
    statuses = [node.request("GET", f"/v1/jobs/{job}/deployment").json() for job in JOBS]
    return all(status.get("status") == "successful" for status in statuses)


def current(node: NodeProcess) -> dict[str, Any]:
    answer = node.request("GET", "/v1/rebalance/current")
    return dict(answer.json()) if answer.status_code == 200 else {}


def test_rebalance_moves_instances_onto_a_new_node_with_no_failed_request(
    make_node: NodeFactory,
) -> None:
    first = make_node("rbrun-a")
    make_node("rbrun-b")
    for job in JOBS:
        assert first.apply(JOB.format(name=job)).status_code == 201
    wait_until(lambda: deployed(first), timeout=120, what="both jobs deployed")
    make_node("rbrun-c")
    wait_until(
        lambda: first.request("GET", "/v1/rebalance").json()["moves"],
        timeout=30,
        what="the new node in the plan",
    )
    refused = first.request("POST", "/v1/rebalance", json={"maxMoves": 0})
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"

    most_moving = 0
    with (
        ClientLoop(first, "rbrun-web.localhost", None) as web_loop,
        ClientLoop(first, "rbrun-api.localhost", None) as api_loop,
    ):
        running = subprocess.Popen(
            ozy(first, "rebalance", "--max-moves", "1"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: current(first).get("status") == "running", what="it to start")
            again = first.request("POST", "/v1/rebalance")
            assert again.status_code == 409, again.text
            assert again.headers["content-type"] == "application/problem+json"

            def ended() -> bool:
                nonlocal most_moving
                progress = current(first)
                most_moving = max(most_moving, progress["counts"]["moving"])
                return bool(progress["status"] != "running")

            wait_until(ended, timeout=240, interval=0.3, what="the moves to end")
            stdout, stderr = running.communicate(timeout=60)
        finally:
            if running.poll() is None:
                running.kill()
                running.communicate()
    assert running.returncode == 0, stdout + stderr
    assert "rebalance succeeded" in stdout
    assert "-> rbrun-c moving" in stdout  # plain progress lines: not a terminal
    assert web_loop.failures == [] and api_loop.failures == []
    assert most_moving <= 1

    final = current(first)
    assert final["status"] == "succeeded" and final["counts"]["failed"] == 0
    assert {move["to"] for move in final["moves"]} == {"rbrun-c"}
    per_node = Counter(instance["node"] for job in JOBS for instance in first.instances(job))
    assert per_node == {"rbrun-a": 2, "rbrun-b": 2, "rbrun-c": 2}  # 64M each: 2/2/2 by memory
    for job in JOBS:
        deployment = first.request("GET", f"/v1/jobs/{job}/deployment").json()
        assert deployment["status"] == "successful"
        assert len(first.instances(job)) == 3

    balanced = subprocess.run(
        ozy(first, "rebalance", "--detach", "-o", "json"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert balanced.returncode == 0, balanced.stderr
    assert '"moves": []' in balanced.stdout


def test_with_auto_rebalance_a_new_node_takes_instances_without_a_command(
    make_node: NodeFactory,
) -> None:
    auto = ("--auto-rebalance",)
    first = make_node("rbauto-a", extra_args=auto)
    make_node("rbauto-b", extra_args=auto)
    jobs = ("rbauto-web", "rbauto-api")
    for job in jobs:
        assert first.apply(JOB.format(name=job)).status_code == 201

    def all_deployed() -> bool:
        statuses = [first.request("GET", f"/v1/jobs/{job}/deployment").json() for job in jobs]
        return all(status.get("status") == "successful" for status in statuses)

    wait_until(all_deployed, timeout=120, what="both jobs deployed")

    def per_node() -> Counter[str]:
        return Counter(instance["node"] for job in jobs for instance in first.instances(job))

    assert per_node()["rbauto-a"] + per_node()["rbauto-b"] == 6
    with ClientLoop(first, "rbauto-web.localhost", None) as loop:
        make_node("rbauto-c", extra_args=auto)
        wait_until(
            lambda: (
                per_node() == {"rbauto-a": 2, "rbauto-b": 2, "rbauto-c": 2}
                and current(first).get("status") == "succeeded"
            ),
            timeout=240,
            interval=0.5,
            what="the cluster to rebalance by itself onto rbauto-c",
        )
    assert loop.failures == []
    final = current(first)
    assert final["trigger"] == "node rbauto-c joined", final
    assert {move["to"] for move in final["moves"]} == {"rbauto-c"}
