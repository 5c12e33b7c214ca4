"""What `ozy apply` says and exits with, for the ways a new version can go (a table, one node).

"Running" is not success: each of these passed through "running", and only
the last two are healthy versions (see cli/apply_verdict.py).
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

CRASH_LOOP = f"""
name: crashloop
containers:
  app: {{image: {TOOLS}, memory: 16M, restart: on-failure,
         command: ["/bin/sh", "-c", "sleep 1; exit 3"]}}
"""
OOM_LOOP = f"""
name: oomloop
containers:
  app: {{image: {TOOLS}, memory: 8M, restart: always,
         command: ["/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"]}}
"""
# restart: never keeps it running while unhealthy; with the default (always), it is
# stopped and restarted at once, and apply may see it unhealthy or, later, crash-looping.
FAILING_CHECK = f"""
name: badcheck
containers:
  app:
    image: {WEB}
    memory: 16M
    restart: never
    healthcheck: {{type: http, port: 3000, path: /no-such-page, interval: 1, timeout: 1,
                  unhealthy_threshold: 2, start_period: 0}}
"""
FAILING_CHECK_RESTARTED = FAILING_CHECK.replace("badcheck", "badcheck2").replace(
    "    restart: never\n", ""
)
FAILING_DEPENDENCY = f"""
name: baddep
containers:
  db: {{image: {TOOLS}, memory: 16M, restart: on-failure,
        command: ["/bin/sh", "-c", "sleep 1; exit 1"]}}
  app: {{image: {TOOLS}, memory: 16M, command: ["sleep", "3600"], depends_on: [db]}}
"""
ONE_SHOT = f"""
name: oneshot
containers:
  migrate: {{image: {TOOLS}, memory: 16M, restart: never,
             command: ["/bin/sh", "-c", "echo migrated"]}}
"""
SLOW_STARTER = f"""
name: slowstart
containers:
  app:
    image: {WEB}
    memory: 16M
    command: ["/bin/sh", "-c", "sleep 4; exec /srv/entrypoint.sh"]
    healthcheck: {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1,
                  start_period: 10}}
"""

OUTCOMES = [
    pytest.param(CRASH_LOOP, 1, "crashloop-0 is crash-looping: restarted", id="crash loop"),
    pytest.param(OOM_LOOP, 1, "oomloop-0 is crash-looping", id="OOM loop"),
    pytest.param(FAILING_CHECK, 1, "badcheck-0 is unhealthy", id="failing check"),
    pytest.param(
        FAILING_CHECK_RESTARTED,
        1,
        "version 1 of badcheck2 failed: badcheck2-0 is",
        id="failing check, restarted",
    ),
    pytest.param(FAILING_DEPENDENCY, 1, "baddep-0 is crash-looping", id="failing dependency"),
    pytest.param(ONE_SHOT, 0, "oneshot: 0/1 running, 1 completed", id="one-shot completes"),
    pytest.param(SLOW_STARTER, 0, "slowstart: 1/1 running, healthy for 3s", id="slow starter"),
]


def apply(node: NodeProcess, spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "apply", "-f", str(spec), "--timeout", "90"],
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
