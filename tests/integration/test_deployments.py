"""Deployments on a live node, under a client loop: revert, batches, canaries."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.support.client_loop import ClientLoop
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

# The app's /healthcheck answers 200; a check of another path fails (404): a bad version.
JOB = """
name: {name}
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 24M
    ports: ["80:3000"]
    environment: {{RELEASE: "{release}"}}
    healthcheck:
      {{type: http, port: 3000, path: {path}, interval: 1, timeout: 1,
       unhealthy_threshold: 2, start_period: 1}}
update: {{min_healthy_time: 1s, healthy_deadline: 20s, progress_deadline: 60s, {update}}}
"""


def job(name: str, release: int, *, count: int = 3, bad: bool = False, update: str = "") -> str:
    path = "/nowhere" if bad else "/healthcheck"
    return JOB.format(name=name, count=count, release=release, path=path, update=update)


def ozy(node: NodeProcess, tmp_path: Path, *arguments: str, spec: str | None = None) -> Any:
    """The real `ozy` against the node (the suite's OZY_TOKEN is inherited)."""
    if spec is not None:
        path = tmp_path / "job.yaml"
        path.write_text(spec)
        arguments = (*arguments, "-f", str(path))
    return subprocess.run(
        [".venv/bin/ozy", *arguments, "--api", node.api],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def deployment(node: NodeProcess, name: str) -> dict[str, Any]:
    answer = node.request("GET", f"/v1/jobs/{name}/deployment")
    return dict(answer.json()) if answer.status_code == 200 else {}


def healthy_backends(node: NodeProcess, job_name: str) -> int:
    routes = node.request("GET", "/v1/ingress").json()["http"]
    return next((route["healthy"] for route in routes if route["job"] == job_name), 0)


def settled(node: NodeProcess, name: str, version: int) -> bool:
    found = deployment(node, name)
    return found.get("version") == version and found.get("status") == "successful"


def test_a_bad_version_is_reverted_with_no_failed_request(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node("deploy-revert")
    assert node.apply(job("rev", 1)).status_code == 201
    wait_until(lambda: settled(node, "rev", 1), timeout=90, what="version 1 deployed")
    healthy_seen: list[int] = []
    with ClientLoop(node, "rev.localhost", None) as loop:
        applied = ozy(node, tmp_path, "apply", spec=job("rev", 2, bad=True))

        def reverted() -> bool:
            healthy_seen.append(healthy_backends(node, "rev"))
            return settled(node, "rev", 3)

        wait_until(reverted, timeout=120, interval=0.2, what="the revert to version 1's spec")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert "not healthy within 20s" in applied.stdout + applied.stderr
    assert loop.failures == []
    assert min(healthy_seen) >= 3, healthy_seen
    record = node.request("GET", "/v1/jobs/rev").json()
    assert record["version"] == 3
    # The old instances ran the stable spec all along: the revert kept them.
    assert [i["specVersion"] for i in node.instances("rev")] == [1, 1, 1]


def test_a_good_version_rolls_out_two_at_a_time(make_node: NodeFactory) -> None:
    node = make_node("deploy-batch")
    assert node.apply(job("batch", 1, count=6)).status_code == 201
    wait_until(lambda: settled(node, "batch", 1), timeout=120, what="version 1 deployed")
    healthy_seen: list[int] = []
    with ClientLoop(node, "batch.localhost", None) as loop:
        assert node.apply(job("batch", 2, count=6, update="max_parallel: 2")).status_code == 200

        def done() -> bool:
            healthy_seen.append(healthy_backends(node, "batch"))
            return settled(node, "batch", 2)

        wait_until(done, timeout=180, interval=0.2, what="version 2 deployed")
    assert loop.failures == []
    assert min(healthy_seen) >= 6, healthy_seen
    assert [i["specVersion"] for i in node.instances("batch")] == [2] * 6


def test_a_canary_waits_for_promotion_and_a_failed_one_is_reverted(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node("deploy-canary")
    assert node.apply(job("can", 1, count=2)).status_code == 201
    wait_until(lambda: settled(node, "can", 1), timeout=90, what="version 1 deployed")

    assert node.apply(job("can", 2, count=2, update="canary: 1")).status_code == 200
    wait_until(
        lambda: deployment(node, "can").get("status") == "paused",
        timeout=60,
        what="the canary healthy and waiting",
    )
    assert sorted(i["specVersion"] for i in node.instances("can")) == [1, 1, 2]
    promoted = ozy(node, tmp_path, "promote", "can")
    assert promoted.returncode == 0, promoted.stderr
    wait_until(lambda: settled(node, "can", 2), timeout=90, what="version 2 promoted and deployed")
    assert [i["specVersion"] for i in node.instances("can")] == [2, 2]

    assert node.apply(job("can", 3, count=2, bad=True, update="canary: 1")).status_code == 200
    wait_until(
        lambda: len(node.instances("can")) == 3, timeout=30, what="the bad canary to be placed"
    )
    failed = ozy(node, tmp_path, "deployment", "fail", "can", "--yes")
    assert failed.returncode == 0, failed.stderr
    wait_until(lambda: settled(node, "can", 4), timeout=60, what="the revert to version 2's spec")
    # The canary is gone; the instances of the stable version stayed.
    assert [i["specVersion"] for i in node.instances("can")] == [2, 2]
