"""What `ozy apply` says and exits with, for the ways a new version can go (a table, one node).

"Running" is not success: each of these passed through "running", and only
the last two are healthy versions. Each is a job's first version, so apply
follows its deployment (cli/deployment_follow.py), which fails when an
instance is not healthy within its `healthy_deadline`, kept short here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.nodes import NodeFactory, NodeProcess

TOOLS = "localhost/ozy-example-tools:latest"
WEB = "localhost/ozy-example-web:latest"
DEADLINE = 30  # seconds: a loaded machine still starts the slow starter well within it
# Healthy for 5 s to count: the loops are healthy for a second or two at a time.
UPDATE = f"update: {{min_healthy_time: 5s, healthy_deadline: {DEADLINE}s}}"

CRASH_LOOP = f"""
name: crashloop
{UPDATE}
containers:
  app: {{image: {TOOLS}, memory: 16M, restart: on-failure,
         command: ["/bin/sh", "-c", "sleep 1; exit 3"]}}
"""
OOM_LOOP = f"""
name: oomloop
{UPDATE}
containers:
  app: {{image: {TOOLS}, memory: 8M, restart: always,
         command: ["/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"]}}
"""
# The same exit code, 137, from a SIGKILL that is not the OOM killer's: a child
# shell kills itself (the container's init would not die of its own SIGKILL).
KILL_LOOP = f"""
name: killloop
{UPDATE}
containers:
  app: {{image: {TOOLS}, memory: 16M, restart: always,
         command: ["/bin/sh", "-c", "sh -c 'kill -9 $$'; exit $?"]}}
"""
# restart: never keeps it running while unhealthy; with the default (always), it is
# stopped and restarted at once: either way it is never healthy by the deadline.
FAILING_CHECK = f"""
name: badcheck
{UPDATE}
containers:
  app:
    image: {WEB}
    memory: 16M
    restart: never
    healthcheck: {{type: http, port: 3000, path: /no-such-page, interval: 1, timeout: 1,
                  unhealthy_threshold: 2, start_period: 0}}
"""
FAILING_CHECK_RESTARTED = FAILING_CHECK.replace("badcheck", "badcheck2", 1).replace(
    "    restart: never\n", ""
)
FAILING_DEPENDENCY = f"""
name: baddep
{UPDATE}
containers:
  db: {{image: {TOOLS}, memory: 16M, restart: on-failure,
        command: ["/bin/sh", "-c", "sleep 1; exit 1"]}}
  app: {{image: {TOOLS}, memory: 16M, command: ["sleep", "3600"], depends_on: [db]}}
"""
ONE_SHOT = f"""
name: oneshot
{UPDATE}
containers:
  migrate: {{image: {TOOLS}, memory: 16M, restart: never,
             command: ["/bin/sh", "-c", "echo migrated"]}}
"""
SLOW_STARTER = f"""
name: slowstart
{UPDATE}
containers:
  app:
    image: {WEB}
    memory: 16M
    command: ["/bin/sh", "-c", "sleep 4; exec /srv/entrypoint.sh"]
    healthcheck: {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1,
                  start_period: 10}}
"""

NOT_HEALTHY = f"was not healthy within {DEADLINE}s"
OUTCOMES = [
    pytest.param(CRASH_LOOP, 1, f"crashloop-0 {NOT_HEALTHY}", id="crash loop"),
    pytest.param(
        OOM_LOOP,
        1,
        f"oomloop-0 {NOT_HEALTHY} (starting, starting:"
        " container app was killed: out of memory (limit 8M)",
        id="OOM loop",
    ),
    # Its reason is the exit code alone: no OOM claim, no guess.
    pytest.param(
        KILL_LOOP,
        1,
        f"killloop-0 {NOT_HEALTHY} (starting, starting: container app exited with code 137;",
        id="SIGKILL loop",
    ),
    pytest.param(
        FAILING_CHECK, 1, f"badcheck-0 {NOT_HEALTHY} (running, unhealthy", id="failing check"
    ),
    pytest.param(
        FAILING_CHECK_RESTARTED,
        1,
        f"version 1 of badcheck2 failed: badcheck2-0 {NOT_HEALTHY}",
        id="failing check, restarted",
    ),
    pytest.param(FAILING_DEPENDENCY, 1, f"baddep-0 {NOT_HEALTHY}", id="failing dependency"),
    pytest.param(
        ONE_SHOT, 0, "version 1 of oneshot deployed: 1/1 healthy", id="one-shot completes"
    ),
    pytest.param(
        SLOW_STARTER, 0, "version 1 of slowstart deployed: 1/1 healthy", id="slow starter"
    ),
]


def apply(node: NodeProcess, spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "apply", "-f", str(spec), "--timeout", "120"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OZY_API": node.api, "COLUMNS": "200"},
    )


@pytest.mark.parametrize(("spec", "code", "said"), OUTCOMES)
def test_apply_fails_on_a_broken_version_and_succeeds_on_a_healthy_one(
    make_node: NodeFactory, tmp_path: Path, spec: str, code: int, said: str
) -> None:
    node = make_node("outcomes1")
    path = tmp_path / "job.yaml"
    path.write_text(spec)
    result = apply(node, path)
    output = result.stdout + result.stderr
    assert (result.returncode, said in output) == (code, True), output
