"""`ozy exec` and `ozy restart INSTANCE` end to end, asked of a node that does not run the
instance (so through the proxy to the one that does) and of the one that does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support.jobs import WEB_IMAGE, pinned_to, web_job
from tests.support.machine import REPO
from tests.support.nodes import NodeFactory, NodeProcess, unused_pod_subnets
from tests.support.podman import app_container
from tests.support.waiting import wait_until

RUNNER, ASKED = "exr-runner", "exr-asked"
JOB = "exr"

# A one-shot that is done at once: its instance completes, and nothing runs to exec in.
DONE_JOB = f"""\
name: exr-done
numInstances: 1
{pinned_to(RUNNER)}
containers:
  app:
    image: {WEB_IMAGE}
    memory: 16M
    command: ["sh", "-c", "exit 0"]
    restart: never
"""


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`ozy` against `node`'s API, with the suite's admin token (OZY_TOKEN)."""
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env={**os.environ, "OZY_API": node.api},
    )


@pytest.fixture
def two_nodes(make_node: NodeFactory) -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """A node that runs two healthy instances of JOB, and one that runs nothing."""
    # Subnets of their own, away from the ones other tests' nodes race for.
    subnets = unused_pod_subnets(2, first=170)
    runner = make_node(RUNNER, pod_subnet=subnets[0])
    asked = make_node(ASKED, pod_subnet=subnets[1])
    answer = runner.apply(web_job(JOB, 2, extra=pinned_to(RUNNER), healthcheck=True))
    assert answer.status_code < 300, answer.text
    runner.wait_running(JOB, 2)
    yield runner, asked


def test_exec_runs_a_command_on_the_instances_node_from_any_node(
    two_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    runner, asked = two_nodes
    for node in (asked, runner):
        said = ozy(node, "exec", f"{JOB}-0", "--", "echo", "hi")
        assert (said.returncode, said.stdout) == (0, "hi\n"), said.stderr

    exited = ozy(asked, "exec", f"{JOB}-1", "-c", "app", "--", "sh", "-c", "exit 3")
    assert exited.returncode == 3, exited.stderr

    both = ozy(asked, "exec", f"{JOB}-0", "--", "sh", "-c", "echo out; echo err >&2; exit 1")
    assert (both.returncode, both.stdout) == (1, "out\n")
    assert both.stderr == "err\n"

    # Large output streams through whole, in order.
    many = ozy(asked, "exec", f"{JOB}-0", "--", "sh", "-c", "seq 1 100000")
    assert many.returncode == 0, many.stderr
    assert many.stdout.split() == [str(n) for n in range(1, 100001)]

    started = time.monotonic()
    slow = ozy(asked, "exec", f"{JOB}-0", "--timeout", "1", "--", "sleep", "60")
    assert slow.returncode == 124 and "timeout of 1 s" in slow.stderr, slow.stderr
    assert time.monotonic() - started < 30
    assert "sleep 60" not in ozy(runner, "exec", f"{JOB}-0", "--", "ps").stdout

    # A client that leaves (Ctrl-C) ends the command, through the proxy too.
    leaving = subprocess.Popen(
        [sys.executable, "-m", "ozymandias.cli.main", "exec", f"{JOB}-1", "--", "sleep", "77"],
        cwd=REPO,
        env={**os.environ, "OZY_API": asked.api},
    )
    try:
        wait_until(lambda: "sleep 77" in processes(runner, 1), timeout=30, what="sleep 77 to run")
        leaving.send_signal(signal.SIGINT)
        assert leaving.wait(30) == 130
    finally:
        leaving.kill()
    wait_until(lambda: "sleep 77" not in processes(runner, 1), timeout=30, what="sleep 77 killed")


def processes(node: NodeProcess, index: int) -> str:
    """`ps` in the app container of instance `index` of JOB."""
    return ozy(node, "exec", f"{JOB}-{index}", "--", "ps").stdout


def test_exec_refuses_what_it_cannot_run_in(two_nodes: tuple[NodeProcess, NodeProcess]) -> None:
    runner, asked = two_nodes
    unknown = ozy(asked, "exec", f"{JOB}-7", "--", "true")
    assert unknown.returncode == 1 and "there is no instance 'exr-7'" in unknown.stderr
    not_an_instance = ozy(asked, "exec", "nosuchjob", "--", "true")
    assert not_an_instance.returncode == 1 and "No such instance" in not_an_instance.stderr
    container = ozy(asked, "exec", f"{JOB}-0", "-c", "db", "--", "true")
    assert container.returncode == 1
    assert "job exr has no container 'db'; it has app" in container.stderr
    missing = ozy(asked, "exec", f"{JOB}-0", "--", "/no/such/program")
    # As `podman exec`: 127, and the runtime's reason on stderr.
    assert missing.returncode == 127 and "no such file or directory" in missing.stderr, missing

    answer = runner.apply(DONE_JOB)
    assert answer.status_code < 300, answer.text
    wait_until(
        lambda: runner.instances("exr-done")[0]["state"] == "completed",
        timeout=60,
        what="exr-done-0 to complete",
    )
    done = ozy(asked, "exec", "exr-done-0", "--", "true")
    assert done.returncode == 1 and "is not running" in done.stderr, done.stderr

    # The API's own bounds, problem+json.
    huge = asked.request("POST", f"/v1/instances/{JOB}-0/exec", json={"command": ["x"] * 1000})
    assert huge.status_code == 400 and huge.headers["content-type"] == "application/problem+json"
    forever = asked.request(
        "POST", f"/v1/instances/{JOB}-0/exec", json={"command": ["true"], "timeout": 1e6}
    )
    assert forever.status_code == 400, forever.text


def test_restart_of_one_instance_replaces_its_pod_only(
    two_nodes: tuple[NodeProcess, NodeProcess],
) -> None:
    runner, asked = two_nodes
    before = {index: app_container(JOB, index) for index in (0, 1)}

    restarted = ozy(asked, "restart", f"{JOB}-0", "--settle", "1")
    assert restarted.returncode == 0, restarted.stderr
    assert f"instance {JOB}-0 restarting on {RUNNER}" in restarted.stdout
    assert f"instance {JOB}-0 restarted" in restarted.stdout

    assert app_container(JOB, 0) != before[0]
    assert app_container(JOB, 1) == before[1]
    instances = {item["name"]: item for item in runner.instances(JOB)}
    assert instances[f"{JOB}-0"]["health"] == "healthy", instances
    assert instances[f"{JOB}-0"]["specVersion"] == instances[f"{JOB}-1"]["specVersion"] == 1
    events = asked.request("GET", "/v1/events", params={"job": JOB}).json()
    kinds = [(event["kind"], event["instance"]) for event in events]
    assert ("instance-restarting", f"{JOB}-0") in kinds
    assert ("instance-restarting", f"{JOB}-1") not in kinds

    # A job named like an instance is restarted as the job, unless --instance says otherwise.
    twin = asked.apply(
        f"name: {JOB}-1\nnumInstances: 0\ncontainers:\n  app: {{image: {WEB_IMAGE}}}\n"
    )
    assert twin.status_code < 300, twin.text
    as_job = ozy(asked, "restart", f"{JOB}-1", "--no-wait")
    assert as_job.returncode == 0 and f"job {JOB}-1 restarting (version 2)" in as_job.stdout
    assert app_container(JOB, 1) == before[1]
    as_instance = ozy(asked, "restart", "--instance", f"{JOB}-1", "--settle", "1")
    assert as_instance.returncode == 0, as_instance.stderr
    assert f"instance {JOB}-1 restarted" in as_instance.stdout
    assert app_container(JOB, 1) != before[1]

    unknown = ozy(asked, "restart", "nosuchjob-0")
    assert unknown.returncode == 1 and "there is no instance 'nosuchjob-0'" in unknown.stderr
    as_json = asked.request("POST", f"/v1/instances/{JOB}-5/restart")
    assert as_json.status_code == 404
    assert json.loads(as_json.text)["type"].endswith("#instance-not-found")
