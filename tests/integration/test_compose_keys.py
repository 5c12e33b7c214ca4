"""`ozy apply -f` of a compose file deploys its project, with compose's `user` and
`stop_grace_period` applied to the running container (issue #20)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.integration.test_compose import leftovers, ok, ozy, project_jobs
from tests.support.machine import run
from tests.support.nodes import NodeFactory
from tests.support.podman import app_container
from tests.support.waiting import wait_until

TOOLS_IMAGE = "localhost/ozy-example-tools:latest"
# On SIGTERM the app takes 8 s to finish, then exits 0: past the default 5 s grace it
# would be killed (137); within its 20 s it exits 0. Meanwhile it sleeps a second at a time.
GRACEFUL_APP = "trap 'sleep 8; exit 0' TERM; while :; do sleep 1; done"
COMPOSE = """
name: {project}
services:
  app:
    image: {image}
    user: "1000:1001"
    stop_grace_period: 20s
    restart: on-failure:2
    command: ["sh", "-c", {script}]
"""


def died_exit_codes(container_id: str) -> list[int]:
    """The exit codes podman's event log records for the container's deaths."""
    output = run(
        "podman",
        "events",
        "--stream=false",
        "--since",
        "10m",
        "--filter",
        f"container={container_id}",
        "--filter",
        "event=died",
        "--format",
        "json",
    ).stdout
    # Podman leaves out an exit code of 0.
    return [
        int(json.loads(line).get("ContainerExitCode", 0)) for line in output.splitlines() if line
    ]


def test_apply_of_a_compose_file_runs_its_user_and_grace(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node("compose-keys")
    project = f"keys{uuid.uuid4().hex[:6]}"
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        COMPOSE.format(project=project, image=TOOLS_IMAGE, script=json.dumps(GRACEFUL_APP))
    )
    try:
        ok(ozy(node, "apply", "-f", str(compose)))
        assert project_jobs(node, project) == [f"{project}-app"]
        container = app_container(f"{project}-app", 0)
        assert run("podman", "exec", container, "id", "-u").stdout.strip() == "1000"
        assert run("podman", "exec", container, "id", "-g").stdout.strip() == "1001"
        stop_timeout = run("podman", "inspect", "--format", "{{.Config.StopTimeout}}", container)
        assert stop_timeout.stdout.strip() == "20"

        ok(ozy(node, "compose", "down", "-p", project, "--yes"))
        wait_until(lambda: not leftovers(node, project), timeout=90, what="the project to go")
        # Stopped with its own grace, the app finished its 8 s of clean-up and exited 0.
        assert died_exit_codes(container) == [0]
    finally:
        ozy(node, "compose", "down", "-p", project, "--yes")
