"""`ozy plan` and `ozy apply --check-index` end to end, on one node and a real etcd: a plan
shows the diff and each instance's fate, never writes, and a stale index is refused (409)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.etcd import EtcdServer
from tests.support.jobs import WEB_IMAGE, web_job
from tests.support.machine import REPO
from tests.support.nodes import NodeFactory, NodeProcess

JOB = "planned"


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments, "--api", node.api],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    )


def written(etcd: EtcdServer) -> dict[str, Any]:
    """The job's and its schedule's keys as etcd has them: values and mod revisions."""
    found: dict[str, Any] = {}
    for key in (f"/ozy/jobs/{JOB}", f"/ozy/schedules/{JOB}"):
        answer = json.loads(etcd.etcdctl("get", key, "-w", "json").stdout)
        found[key] = [(kv["value"], kv["mod_revision"]) for kv in answer.get("kvs", [])]
    return found


def test_a_plan_shows_what_apply_would_do_and_writes_nothing(
    make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    node = make_node("plan1")
    spec = tmp_path / "planned.yaml"
    spec.write_text(web_job(JOB, 2))

    new = ozy(node, "plan", "-f", str(spec))
    assert new.returncode == 1, new.stderr
    assert "+ job planned" in new.stdout and f"+ image: {WEB_IMAGE}" in new.stdout
    assert "Instances (2 created)" in new.stdout and "plan1" in new.stdout
    assert "job modify index: 0" in new.stdout
    assert written(etcd) == {f"/ozy/jobs/{JOB}": [], f"/ozy/schedules/{JOB}": []}

    applied = ozy(node, "apply", "-f", str(spec), "--check-index", "0", "--no-wait")
    assert applied.returncode == 0, applied.stderr
    before = written(etcd)
    index = before[f"/ozy/jobs/{JOB}"][0][1]

    same = ozy(node, "plan", "-f", str(spec), "-o", "json")
    assert same.returncode == 0, same.stderr
    unchanged = json.loads(same.stdout)
    assert (unchanged["changed"], unchanged["modifyIndex"]) == (False, index)
    assert unchanged["counts"] == {"kept": 2}

    spec.write_text(web_job(JOB, 2).replace(WEB_IMAGE, "localhost/ozy-example-web:next"))
    changed = ozy(node, "plan", "-f", str(spec))
    assert changed.returncode == 1, changed.stderr
    assert f"~ image: {WEB_IMAGE} => localhost/ozy-example-web:next" in changed.stdout
    assert "Instances (2 replaced)" in changed.stdout
    assert f"--check-index {index}" in changed.stdout

    missing = ozy(node, "plan", "-f", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 255, missing.stderr  # the plan could not be made
    spec.write_text(web_job(JOB, 2, memory="64G"))
    refused = ozy(node, "plan", "-f", str(spec))
    assert refused.returncode == 1, refused.stderr
    assert "~ memory: 32M => 64G" in refused.stdout and "does not fit:" in refused.stdout

    assert written(etcd) == before  # plans never write


def test_apply_with_a_stale_check_index_is_refused_and_a_current_one_applies(
    make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    node = make_node("plan2")
    created = node.apply(web_job(JOB, 1))
    assert created.status_code == 201, created.text
    first = written(etcd)[f"/ozy/jobs/{JOB}"][0][1]
    scaled = ozy(node, "scale", JOB, "2", "--no-wait")
    assert scaled.returncode == 0, scaled.stderr
    second = written(etcd)[f"/ozy/jobs/{JOB}"][0][1]
    assert second > first

    spec = tmp_path / "planned.yaml"
    spec.write_text(web_job(JOB, 2, memory="48M"))

    stale = ozy(node, "apply", "-f", str(spec), "--check-index", str(first), "--no-wait")
    assert stale.returncode != 0
    assert "Job modified" in stale.stderr, stale.stderr
    assert f"changed since modify index {first}: it is at modify index {second}" in stale.stderr
    reply = node.request(
        "PUT",
        f"/v1/jobs/{JOB}",
        params={"checkIndex": str(first)},
        content=spec.read_text(),
        headers={"content-type": "application/yaml"},
    )
    assert reply.status_code == 409, reply.text
    assert reply.json()["type"].endswith("#job-modified")
    assert written(etcd)[f"/ozy/jobs/{JOB}"][0][1] == second  # nothing written

    current = ozy(node, "apply", "-f", str(spec), "--check-index", str(second), "--no-wait")
    assert current.returncode == 0, current.stderr
    assert "updated" in current.stdout
    assert written(etcd)[f"/ozy/jobs/{JOB}"][0][1] > second

    # describe shows the spec as written; -o json keeps the API's fields.
    described = ozy(node, "describe", "job", JOB)
    assert described.returncode == 0, described.stderr
    assert "memory: 48M" in described.stdout
    for internal in ("50331648", "cluster_port", "null", "pids"):
        assert internal not in described.stdout
    data = json.loads(ozy(node, "describe", "job", JOB, "-o", "json").stdout)
    assert data["spec"]["containers"]["app"]["memory"] == 48 * 1024**2
