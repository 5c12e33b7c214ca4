"""The daemon's own log, read from a real node: JSON lines (`--log-format json`), and quiet
while nothing changes (issue #18: a node with a healthy job logs nothing at INFO)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ozymandias.client_config import TOKEN_ENV
from tests.support.jobs import HTTP_HEALTHCHECK, WEB_IMAGE, web_job
from tests.support.machine import REPO, free_port, free_port_pair, run
from tests.support.nodes import NodeFactory, remove_everything_of_node
from tests.support.podman import app_container
from tests.support.waiting import wait_until

QUIET_SECONDS = 30


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line of a daemon's log, parsed; fails on a line that is not a JSON object with
    the four keys and the node's name."""
    lines = []
    for number, line in enumerate(log.read_text().splitlines(), 1):
        try:
            parsed = json.loads(line)
        except ValueError:
            raise AssertionError(f"line {number} of {log} is no JSON: {line!r}") from None
        assert isinstance(parsed, dict), f"line {number} is no object: {line!r}"
        assert {"time", "level", "logger", "msg", "node"} <= parsed.keys(), line
        lines.append(parsed)
    return lines


def test_a_json_log_is_one_object_per_line_with_the_event_fields(
    make_node: NodeFactory,
) -> None:
    name = f"jlog-{uuid.uuid4().hex[:6]}"
    node = make_node("jn1", extra_args=("--log-format", "json"))
    assert node.apply(web_job(name, 2, healthcheck=True)).status_code in (200, 201)
    node.wait_running(name, 2)
    wait_until(
        lambda: {item["health"] for item in node.instances(name)} == {"healthy"},
        timeout=60,
        what=f"{name}'s instances healthy",
    )
    assert node.request("POST", f"/v1/jobs/{name}/scale", json={"numInstances": 1}).is_success
    wait_until(
        lambda: f"{name}-1: stopped on jn1" in node.log_path.read_text(),
        timeout=60,
        what=f"{name}-1 stopped",
    )
    node.stop()  # its shutdown lines are read too

    lines = json_lines(node.log_path)
    for line in lines:
        assert line["node"] == "jn1", line
        assert line["time"].endswith("Z") and len(line["time"]) == len("2026-12-07T14:10:00.500Z")
    # The harness runs nodes at DEBUG: the podman client's request lines are there, as DEBUG.
    assert any(line["logger"] == "httpx" for line in lines)
    assert all(line["level"] == "DEBUG" for line in lines if line["logger"] == "httpx")

    def about(job: str, needle: str) -> list[dict[str, Any]]:
        return [
            line
            for line in lines
            if line["level"] == "INFO" and line.get("job") == job and needle in line["msg"]
        ]

    committed = about(name, "placed")
    assert committed and committed[0]["version"] == 1 and committed[0]["nodes"] == ["jn1"]
    started = about(name, "started on jn1")
    assert {line["instance"] for line in started} == {f"{name}-0", f"{name}-1"}
    assert {line["instance"] for line in about(name, "is healthy")} == {f"{name}-0", f"{name}-1"}
    assert {line["instance"] for line in about(name, "stopped on jn1")} >= {f"{name}-1"}


def quiet_job(name: str) -> str:
    """An HTTP check on the web app, and an exec check (through podman's API) that counts
    its runs in a file, both every second."""
    return (
        web_job(name, 1, healthcheck=True)
        + f"""\
  checker:
    image: {WEB_IMAGE}
    memory: 16M
    command: ["sh", "-c", "exec sleep 3600"]
    healthcheck:
      type: exec
      command: ["sh", "-c", "echo ran >> /tmp/checks"]
      interval: 1
      timeout: 1
      healthy_threshold: 1
"""
    )


def checks_run(job: str) -> int:
    container = app_container(job, 0, "checker")
    return int(run("podman", "exec", container, "wc", "-l", "/tmp/checks").stdout.split()[0])


def test_an_idle_node_with_a_healthy_job_logs_nothing_at_info(make_node: NodeFactory) -> None:
    assert "interval: 1" in HTTP_HEALTHCHECK  # the web app is checked every second too
    name = f"quiet-{uuid.uuid4().hex[:6]}"
    node = make_node("qn1", log_level="INFO")
    assert node.apply(quiet_job(name)).status_code in (200, 201)
    node.wait_running(name, 1)
    wait_until(
        lambda: {item["health"] for item in node.instances(name)} == {"healthy"},
        timeout=60,
        what=f"{name} healthy",
    )
    for container in ("app", "checker"):
        assert f"{name}-0: container {container} is healthy" in node.log_path.read_text()
    # The start's last news: its deployment succeeds once the instance stayed healthy a while.
    wait_until(
        lambda: f"{name}: deployment of version 1 succeeded" in node.log_path.read_text(),
        timeout=60,
        what=f"{name}'s deployment to succeed",
    )
    checks_before = checks_run(name)
    start = node.log_path.stat().st_size
    time.sleep(QUIET_SECONDS)  # the quiet is the behaviour under test: no condition ends it
    with node.log_path.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert checks_run(name) - checks_before >= QUIET_SECONDS // 2, "the checks did not run"
    assert {item["health"] for item in node.instances(name)} == {"healthy"}
    assert written == "", f"an idle node logged at INFO or above:\n{written}"


def test_ozy_up_passes_the_log_format_to_its_detached_daemon(
    tmp_path: Path, pod_range: str, example_images: None
) -> None:
    data_dir, name = tmp_path / "ozy", "log-up-node"
    api = f"http://127.0.0.1:{free_port()}"
    environment = {
        **{key: value for key, value in os.environ.items() if key != TOKEN_ENV},
        "OZY_API": api,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # its token goes there, not the user's
    }

    def ozy(*arguments: str, check: bool = True) -> None:
        subprocess.run(
            [sys.executable, "-m", "ozymandias.cli.main", *arguments],
            capture_output=True,
            check=check,
            timeout=180,
            cwd=REPO,
            env=environment,
        )

    try:
        ozy(
            "up", "--detach", "--data-dir", str(data_dir), "--api-port", api.rsplit(":", 1)[1],
            "--etcd-port", str(free_port_pair()), "--name", name, "--log-format", "json",
            "--kube-port", str(free_port()),
        )  # fmt: skip
    finally:
        ozy("down", "--data-dir", str(data_dir), check=False)
        remove_everything_of_node(name)
    lines = json_lines(data_dir / "up.log")
    assert any(line["msg"].startswith(f"node {name} is up") for line in lines)
    assert {line["node"] for line in lines} == {name}
