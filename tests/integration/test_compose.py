"""A compose project as people write it, run unchanged with `ozy compose up`: its services
find each other by their compose names, and `ozy compose down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.machine import run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

SHOP = Path(__file__).resolve().parents[2] / "examples" / "compose" / "shop" / "compose.yaml"

# The database never turns healthy, so the API that waits for it must stay waiting.
NEVER_HEALTHY = """
services:
  api:
    image: localhost/ozy-example-compose-api:latest
    depends_on:
      db: {condition: service_healthy}
  db:
    image: localhost/ozy-example-compose-db:latest
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
"""


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OZY_API": node.api, "COLUMNS": "200"},
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def through_ingress(node: NodeProcess, job: str) -> str:
    """The status and body of GET / at the job's name through the ingress."""
    try:
        response = httpx.get(
            f"http://127.0.0.1:{node.ingress_port}/",
            headers={"host": f"{job}.localhost"},
            timeout=15,
        )
    except httpx.HTTPError as error:
        return f"no answer: {error}"
    return f"{response.status_code} {response.text}"


def project_jobs(node: NodeProcess, project: str) -> list[str]:
    jobs = json.loads(ok(ozy(node, "get", "jobs", "-l", f"project={project}", "-o", "json")))
    return sorted(job["name"] for job in jobs)


def leftovers(node: NodeProcess, project: str) -> list[Any]:
    """Anything of the project still in the cluster: jobs, aliases, pods."""
    aliases = node.request("GET", "/v1/dns/aliases").json()
    pods = run("podman", "pod", "ps", "--format", "{{.Name}}").stdout.split()
    return [
        *project_jobs(node, project),
        *(alias["name"] for alias in aliases if f".{project}." in alias["name"]),
        *(pod for pod in pods if f"-{project}-" in pod),
    ]


def test_a_three_service_project_runs_unchanged_and_goes_away(make_node: NodeFactory) -> None:
    node = make_node("compose1")
    project = f"shop{uuid.uuid4().hex[:6]}"
    try:
        output = ok(ozy(node, "compose", "up", "-f", str(SHOP), "-p", project))
        assert f"project {project}: 3 job(s) running" in output
        assert project_jobs(node, project) == [f"{project}-{s}" for s in ("api", "db", "web")]
        # web -> http://api:8080/ -> db:5432: each hop names itself in the answer.
        expected = f"web {project}-web-0 -> api {project}-api-0 -> db {project}-db-0 rows=42"
        answers = [""]

        def answered() -> str | None:
            answers.append(through_ingress(node, f"{project}-web"))
            return answers[-1] if answers[-1].startswith("200 ") else None

        try:
            answer = wait_until(answered, timeout=60, what="web to answer through the ingress")
        except AssertionError:
            states = {s: node.instances(f"{project}-{s}") for s in ("web", "api", "db")}
            raise AssertionError(f"last answer {answers[-1]!r}; instances {states}") from None
        assert answer == f"200 {expected}"
        instances = json.loads(ok(ozy(node, "compose", "ps", "-p", project, "-o", "json")))
        assert sorted(i["name"] for i in instances) == [
            f"{project}-{s}-0" for s in ("api", "db", "web")
        ]
        ok(ozy(node, "compose", "down", "-p", project, "--yes"))
        wait_until(
            lambda: not leftovers(node, project),
            timeout=60,
            what="nothing of the project to be left",
        )
    finally:
        ozy(node, "compose", "down", "-p", project, "--yes")


def test_a_dependent_job_waits_for_its_dependency(make_node: NodeFactory, tmp_path: Path) -> None:
    node = make_node("compose2")
    project = f"wait{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(NEVER_HEALTHY)
    try:
        ok(
            ozy(
                node,
                "compose",
                "up",
                "-f",
                str(tmp_path / "compose.yaml"),
                "-p",
                project,
                "--detach",
            )
        )

        def api_instance() -> dict[str, Any] | None:
            found = node.instances(f"{project}-api")
            return found[0] if found and found[0]["state"] == "waiting" else None

        waiting = wait_until(api_instance, timeout=60, what="the api to wait for the db")
        assert waiting["reason"] == f"waiting for job {project}-db to be healthy (0 of 1 instances)"
    finally:
        ozy(node, "compose", "down", "-p", project, "--yes")
