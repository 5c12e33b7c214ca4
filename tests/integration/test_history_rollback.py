"""`ozy history` lists a job's versions; `ozy rollback` returns it to a stable one (one node)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

JOB = "ledger"
SPEC = """
name: ledger
numInstances: 2
update: {min_healthy_time: 1s}
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    memory: 16M
    environment: {GREETING: %s}
"""


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OZY_API": node.api, "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,  # no terminal: a prompt would need --yes
    )


def history(node: NodeProcess) -> list[dict[str, Any]]:
    listed = ozy(node, "history", JOB, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_history_lists_the_versions_and_rollback_returns_to_the_stable_one(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = make_node("history1")
    spec = tmp_path / "ledger.yaml"
    spec.write_text(SPEC % "hello")
    assert ozy(node, "apply", "-f", str(spec)).returncode == 0
    wait_until(lambda: history(node)[0]["stable"], timeout=60, what="version 1 stable")

    refused = ozy(node, "rollback", JOB, "--yes")
    assert refused.returncode == 1 and "no version of job ledger before" in refused.stderr

    spec.write_text(SPEC % "bonjour")
    applied = ozy(node, "apply", "-f", str(spec))
    assert applied.returncode == 0 and "version 2" in applied.stdout, applied.stderr
    versions = history(node)
    assert [(v["version"], v["current"], v["summary"]) for v in versions] == [
        (2, True, "environment ~GREETING"),
        (1, False, "first version"),
    ]
    assert versions[1]["stable"] and versions[1]["deploymentStatus"] == "successful"
    table = ozy(node, "history", JOB).stdout
    assert "2 (current)" in table and "first version" in table

    unasked = ozy(node, "rollback", JOB)
    assert unasked.returncode == 2 and "pass --yes" in unasked.stderr  # no terminal to ask on
    unknown = ozy(node, "rollback", JOB, "--to", "9", "--yes")
    assert unknown.returncode == 1 and "job ledger has no version 9" in unknown.stderr

    rolled = ozy(node, "rollback", JOB, "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "rolled back to version 1's spec: version 3" in rolled.stdout
    assert "version 3 of ledger deployed: 2/2 healthy" in rolled.stdout  # followed, as apply
    job = node.request("GET", f"/v1/jobs/{JOB}").json()
    assert job["version"] == 3
    assert job["spec"]["containers"]["app"]["environment"] == {"GREETING": "hello"}
    assert {i["specVersion"] for i in node.instances(JOB)} == {3}
    assert [(v["version"], v["summary"]) for v in history(node)] == [
        (3, "environment ~GREETING"),
        (2, "environment ~GREETING"),
        (1, "first version"),
    ]
