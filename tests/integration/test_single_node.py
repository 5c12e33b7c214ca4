"""A one-node cluster running jobs for real: etcd, the node daemon and podman."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ozymandias.network.firewall import CONNTRACK_TCP_LIBERAL
from tests.support.jobs import web_job
from tests.support.machine import run
from tests.support.nodes import NodeFactory
from tests.support.podman import app_container, containers_with_label, pods_with_label
from tests.support.waiting import wait_until

WEB_JOB = """
name: {name}
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 48M
    environment:
      GREETING: hello-from-{name}
    ports: ["80:3000"]
    depends_on: [db]
  db:
    image: localhost/ozy-example-db:latest
    memory: 32M
    environment:
      - name: POSTGRES_USER
        value: webapp
"""


def running_containers(node: str, job: str) -> list[dict[str, Any]]:
    """The job's running spec containers on `node` (pods' infra containers left out)."""
    return [
        c
        for c in containers_with_label(f"ozy.job={job}")
        if c["Labels"].get("ozy.node") == node
        and "ozy.container" in c["Labels"]
        and c["State"] == "running"
    ]


def exec_in(container_id: str, *command: str) -> str:
    return run("podman", "exec", container_id, *command).stdout


def test_apply_scale_and_delete_a_two_container_job(make_node: NodeFactory) -> None:
    node = make_node("single-a")
    response = node.apply(WEB_JOB.format(name="web", count=3))
    assert response.status_code == 201, response.text

    instances = node.wait_running("web", 3)
    assert sorted(i["name"] for i in instances) == ["web-0", "web-1", "web-2"]
    assert all(i["node"] == "single-a" and i["podIP"].startswith("10.213.") for i in instances)
    assert len(pods_with_label("ozy.job=web")) == 3
    containers = running_containers("single-a", "web")
    assert len(containers) == 6

    app = next(c for c in containers if c["Labels"].get("ozy.container") == "app")
    limit = exec_in(str(app["Id"]), "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert int(limit) == 48 * 1024 * 1024
    environment = exec_in(str(app["Id"]), "env")
    assert "GREETING=hello-from-web" in environment
    assert "OZY_INSTANCE=web-" in environment

    assert node.request("POST", "/v1/jobs/web/scale", json={"numInstances": 5}).status_code == 200
    node.wait_running("web", 5)
    wait_until(lambda: len(pods_with_label("ozy.job=web")) == 5, what="5 pods")

    # As curl -d sends it: a form's content type, a JSON body.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = node.request("POST", "/v1/jobs/web/scale", content=b'{"numInstances": -1}', headers=form)
    assert bad.status_code == 400, bad.text
    assert bad.json()["type"].endswith("#invalid-request")
    assert "body.numInstances" in bad.json()["detail"]
    one = b'{"numInstances": 1}'
    scaled = node.request("POST", "/v1/jobs/web/scale", content=one, headers=form)
    assert scaled.status_code == 200, scaled.text
    remaining = node.wait_running("web", 1)
    assert remaining[0]["name"] == "web-0"  # the highest indices go first
    wait_until(lambda: len(pods_with_label("ozy.job=web")) == 1, what="1 pod left")

    assert node.request("DELETE", "/v1/jobs/web").status_code == 200
    wait_until(lambda: not containers_with_label("ozy.job=web"), what="no containers left")
    assert node.request("GET", "/v1/jobs/web").status_code == 404
    allocated = node.request("GET", "/v1/nodes").json()[0]["allocated"]
    assert allocated == {"memory": 0, "disk": 0, "cpu": 0}


def test_the_node_keeps_conntrack_from_resetting_mapped_connections(
    make_node: NodeFactory,
) -> None:
    # Without it, a new connection to a mapped port on a recycled source port
    # now and then gets no answer for a second (see ensure_liberal_tcp_conntrack).
    before = CONNTRACK_TCP_LIBERAL.read_text()
    CONNTRACK_TCP_LIBERAL.write_text("0\n")
    try:
        make_node("single-g")
        wait_until(
            lambda: CONNTRACK_TCP_LIBERAL.read_text().strip() == "1",
            timeout=30,
            what=f"{CONNTRACK_TCP_LIBERAL} set by the node",
        )
    finally:
        CONNTRACK_TCP_LIBERAL.write_text(before)


def test_a_node_stopped_gracefully_leaves_no_pod_rule_or_runtime_file(
    make_node: NodeFactory,
) -> None:
    node = make_node("single-h")
    assert node.apply(WEB_JOB.format(name="leaving", count=1)).status_code == 201
    node.wait_running("leaving", 1)
    run_dir = Path("/run/ozymandias/single-h")
    assert (run_dir / "haproxy" / "haproxy.cfg").exists()

    node.stop()
    assert node.process is not None and node.process.returncode == 0, node.log_path
    assert not run_dir.exists(), sorted(str(path) for path in run_dir.rglob("*"))
    assert not pods_with_label("ozy.node=single-h")
    saved = run("iptables-save").stdout
    assert "OZY-single-h" not in saved


def test_daemon_killed_and_restarted_adopts_its_containers(make_node: NodeFactory) -> None:
    node = make_node("single-b")
    assert node.apply(WEB_JOB.format(name="adopt", count=2)).status_code == 201
    node.wait_running("adopt", 2)
    before = sorted(str(c["Id"]) for c in running_containers("single-b", "adopt"))
    assert len(before) == 4

    node.kill9()
    node.start()
    node.wait_running("adopt", 2)
    # Give a duplicate, if the daemon wrongly made one, time to appear.
    time.sleep(2)
    after = sorted(str(c["Id"]) for c in running_containers("single-b", "adopt"))
    assert after == before
    assert len(pods_with_label("ozy.job=adopt")) == 2
    assert all(i["restarts"] == 0 for i in node.instances("adopt"))


def test_restart_policies_on_failure_backs_off_and_never_stays_exited(
    make_node: NodeFactory,
) -> None:
    node = make_node("single-c")
    job = """
name: crashy
numInstances: 1
containers:
  onfailure:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "sleep 0.2; exit 1"]
    restart: on-failure
    memory: 16M
  never:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "exit 1"]
    restart: never
    memory: 16M
"""
    assert node.apply(job).status_code == 201

    def restarts_of(container: str) -> int:
        items = node.instances("crashy")
        if not items or not items[0]["containers"]:
            return 0
        return int(next(c["restarts"] for c in items[0]["containers"] if c["name"] == container))

    wait_until(lambda: restarts_of("onfailure") >= 3, timeout=60, what="3 restarts")
    events = node.request("GET", "/v1/events", params={"job": "crashy"}).json()
    delays = [e["message"] for e in events if e["kind"] == "container-restarting"]
    assert any("restarting in 1s" in m for m in delays)
    assert any("restarting in 2s" in m for m in delays)
    assert any("restarting in 4s" in m for m in delays)

    never = next(c for c in node.instances("crashy")[0]["containers"] if c["name"] == "never")
    assert never["state"] == "exited" and never["exitCode"] == 1 and never["restarts"] == 0


def test_a_job_bigger_than_the_node_is_rejected_and_nothing_is_written(
    make_node: NodeFactory,
) -> None:
    node = make_node("single-d", memory="1G")
    response = node.apply(web_job("huge", 3, "512M"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("#insufficient-memory")
    assert problem["title"] == "Insufficient memory for job"
    assert problem["detail"] == (
        "Job requires 1.5G of memory (3 × 512M) but only 1G can be allocated"
        " (2 instances fit; 1G free on 1 node)"
    )
    assert problem["job"] == "huge"
    assert node.request("GET", "/v1/jobs/huge").status_code == 404


def test_a_missing_image_fails_the_instance_with_the_reason(make_node: NodeFactory) -> None:
    node = make_node("single-e")
    job = """
name: noimage
containers:
  app:
    image: localhost/ozy-does-not-exist:latest
"""
    assert node.apply(job).status_code == 201
    failed = wait_until(
        lambda: [i for i in node.instances("noimage") if i["state"] == "failed"],
        what="a failed instance",
    )
    assert "ozy-does-not-exist" in failed[0]["reason"]
    assert node.answers()  # the daemon is still up
    assert node.request("DELETE", "/v1/jobs/noimage").status_code == 200


def test_bad_requests_get_problem_json_never_500(make_node: NodeFactory) -> None:
    node = make_node("single-f")
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (
            "PUT",
            "/v1/jobs/bad",
            {"content": "name: bad\ncontainers: {app: {image: x, memory: 2X}}"},
        ),
        ("PUT", "/v1/jobs/bad", {"content": "{not yaml: ["}),
        ("PUT", "/v1/jobs/bad", {"content": "- a list"}),
        ("PUT", "/v1/jobs/other", {"content": "name: bad\ncontainers: {app: {image: x}}"}),
        ("POST", "/v1/jobs/nope/scale", {"json": {"numInstances": 2}}),
        ("POST", "/v1/jobs/nope/scale", {"content": "garbage"}),
        ("GET", "/v1/jobs/nope", {}),
        ("DELETE", "/v1/jobs/nope", {}),
    ]
    for method, path, options in cases:
        response = node.request(method, path, **options)
        assert 400 <= response.status_code < 500, (
            method,
            path,
            response.status_code,
            response.text,
        )
        assert response.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "detail", "status"} <= set(response.json())
    detail = node.request("PUT", "/v1/jobs/bad", content=cases[0][2]["content"]).json()["detail"]
    assert "containers.app.memory: '2X' is not a size like 512M or 2G" in detail
    assert "paths" in json.loads(node.request("GET", "/openapi.json").text)


def test_a_cordoned_node_takes_no_new_instances(make_node: NodeFactory) -> None:
    node = make_node("single-g")
    job = WEB_JOB.format(name="cordoned", count=1)
    assert node.request("POST", "/v1/nodes/single-g/cordon").json()["cordoned"] is True
    assert node.request("GET", "/v1/nodes").json()[0]["cordoned"] is True

    refused = node.apply(job)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("#unsatisfiable-constraints")
    assert "cordoned" in refused.json()["detail"]

    assert node.request("POST", "/v1/nodes/single-g/uncordon").json()["cordoned"] is False
    assert node.apply(job).status_code == 201
    node.wait_running("cordoned", 1)
    assert node.request("POST", "/v1/nodes/nope/cordon").status_code == 404


def test_restart_policies_and_back_off_survive_a_daemon_crash(make_node: NodeFactory) -> None:
    node = make_node("single-i")
    job = """
name: survivor
containers:
  crashy:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "sleep 1; exit 1"]
    restart: on-failure
    memory: 16M
  steady:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    restart: always
    memory: 16M
"""
    assert node.apply(job).status_code == 201

    def container(name: str) -> dict[str, Any] | None:
        items = node.instances("survivor")
        found = [c for c in items[0]["containers"] if c["name"] == name] if items else []
        return found[0] if found else None

    # Third exit in a row: the back-off is at 4 s, and the restart is pending.
    in_back_off = wait_until(
        lambda: (
            (c := container("crashy"))
            and c["state"] == "exited"
            and c["crashStreak"] >= 3
            and c["restartAt"]
            and c
        ),
        timeout=60,
        what="crashy in its third back-off",
    )
    node.kill9()
    # An exit while no daemon watches: the restarted daemon must apply the policy to it.
    run("podman", "kill", app_container("survivor", 0, "steady"))
    node.start()

    restarted = wait_until(
        lambda: (c := container("crashy")) and c["restarts"] > in_back_off["restarts"] and c,
        timeout=60,
        what="crashy restarted by the new daemon",
    )
    assert restarted["restarts"] == in_back_off["restarts"] + 1  # counted on, not from 0
    wait_until(
        lambda: (c := container("steady")) and c["state"] == "running" and c["restarts"] == 1,
        timeout=60,
        what="steady restarted after it was killed while the daemon was down",
    )
    # The back-off goes on doubling from where it was, not from 1 s.
    wait_until(
        lambda: (c := container("crashy")) and c["crashStreak"] > in_back_off["crashStreak"],
        timeout=60,
        what="crashy's next exit",
    )
    events = node.request("GET", "/v1/events", params={"job": "survivor"}).json()
    delays = [e["message"] for e in events if e["kind"] == "container-restarting"]
    expected = 2 ** in_back_off["crashStreak"]
    assert any(f"crashy exited with code 1; restarting in {expected}s" in m for m in delays), delays
    state = node.instances("survivor")[0]
    assert state["state"] in ("running", "starting"), state


def test_logs_of_a_container_that_has_not_started_are_an_error(make_node: NodeFactory) -> None:
    node = make_node("single-j")
    job = """
name: nostart
containers:
  app:
    image: localhost/ozy-not-built:latest
    memory: 16M
"""
    assert node.apply(job).status_code == 201
    wait_until(
        lambda: [i["state"] for i in node.instances("nostart")] == ["failed"],
        what="nostart failed to start",
    )
    logs = node.request("GET", "/v1/instances/nostart-0/logs")
    assert logs.status_code == 409, logs.text
    assert logs.headers["content-type"] == "application/problem+json"
    assert logs.json()["type"].endswith("#container-not-started")
    assert "nostart-0 has no app container on single-j yet" in logs.json()["detail"]


def test_ozy_restart_replaces_every_pod_in_turn_and_waits_for_health(
    make_node: NodeFactory,
) -> None:
    node = make_node("single-restart")
    assert node.apply(web_job("again", 2, healthcheck=True)).status_code == 201
    node.wait_running("again", 2)
    before = {app_container("again", index) for index in (0, 1)}

    restarted = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "restart", "again", "--api", node.api],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert restarted.returncode == 0, restarted.stderr
    assert "job again restarting (version 2)" in restarted.stdout
    assert "again: 2/2 running, healthy for 3s" in restarted.stdout
    instances = node.instances("again")
    assert [(i["specVersion"], i["health"]) for i in instances] == [(2, "healthy")] * 2
    # New instances (new names, beside the old ones until healthy), new containers.
    assert {app_container("again", int(i["index"])) for i in instances}.isdisjoint(before)

    missing = node.request("POST", "/v1/jobs/nothing-here/restart")
    assert missing.status_code == 404 and missing.json()["type"].endswith("#job-not-found")
