"""The `ozy` command end to end: `ozy up --detach`, the user's tour, and `ozy down`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path

import pytest

from ozymandias.client_config import TOKEN_ENV
from tests.support.machine import REPO, free_port, free_port_pair, run
from tests.support.nodes import remove_everything_of_node
from tests.support.podman import app_container, containers_with_label
from tests.support.waiting import wait_until

NODE = "cli-node"


class Ozy:
    """Runs `ozy` as a user would, against one API."""

    def __init__(self, api: str, data_dir: Path, etcd_port: int) -> None:
        self.api = api
        self.data_dir = data_dir
        self.etcd_port = etcd_port

    @property
    def up_arguments(self) -> list[str]:
        """`ozy up --detach` of this test's cluster (its data dir, ports and node name)."""
        port = self.api.rsplit(":", 1)[1]
        return [
            "up", "--detach", "--data-dir", str(self.data_dir), "--api-port", port,
            "--etcd-port", str(self.etcd_port), "--name", NODE, "--kube-port", str(free_port()),
        ]  # fmt: skip

    @property
    def config_dir(self) -> Path:
        """This user's ~/.config: `ozy up` saves its cluster's token there, and the CLI reads it."""
        return self.data_dir.parent / "config"

    def environment(self) -> dict[str, str]:
        # Not the suite's OZY_TOKEN: a user of `ozy up` has only the token it saved.
        inherited = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
        return {
            **inherited,
            "OZY_API": self.api,
            "COLUMNS": "200",
            "XDG_CONFIG_HOME": str(self.config_dir),
        }

    def __call__(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "ozymandias.cli.main", *arguments],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=REPO,
            env=self.environment(),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"ozy {' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture
def ozy(tmp_path: Path, pod_range: str, example_images: None) -> Iterator[Ozy]:
    api_port = free_port()
    command = Ozy(f"http://127.0.0.1:{api_port}", tmp_path / "ozy", etcd_port=free_port_pair())
    try:
        command(*command.up_arguments)
        assert "already running" in command(*command.up_arguments).stdout  # idempotent
        yield command
    finally:
        command("down", "--data-dir", str(command.data_dir), check=False)
        remove_everything_of_node(NODE)


def test_the_quick_tour(ozy: Ozy) -> None:
    versions = json.loads(ozy("version", "-o", "json").stdout)
    assert versions["client"] == versions["server"]["version"], versions
    assert versions["server"]["node"] == NODE
    assert ozy("--version").stdout.strip() == f"ozy {versions['client']}"

    # `ozy up` made the cluster's first admin token and saved it where the CLI looks.
    token_file = ozy.config_dir / "ozymandias" / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    again = ozy("acl", "bootstrap", check=False)
    assert again.returncode == 1 and "already bootstrapped" in again.stderr.lower()

    # `ozy up` made the cluster's secrets key; the example job's password is a secret.
    assert stat.S_IMODE((ozy.data_dir / "secrets.key").stat().st_mode) == 0o600
    made = ozy("secret", "set", "db", "password=tour-pw", "url=postgresql://webapp:tour-pw@db/w")
    assert "secret db set (version 1)" in made.stdout
    listed = json.loads(ozy("secret", "list", "-o", "json").stdout)
    assert [(s["name"], s["keys"]) for s in listed] == [("db", ["password", "url"])]
    assert "tour-pw" not in ozy("secret", "get", "db").stdout
    assert ozy("secret", "set", "db", "novalue", check=False).returncode == 2

    applied = ozy("apply", "-f", "examples/simple-webapp.yaml")
    assert "job simple-webapp created" in applied.stdout
    assert "version 1 of simple-webapp deployed: 3/3 healthy" in applied.stdout

    jobs = json.loads(ozy("get", "jobs", "-o", "json").stdout)
    assert [(j["name"], j["running"]) for j in jobs] == [("simple-webapp", 3)]
    instances = json.loads(ozy("get", "instances", "simple-webapp", "-o", "json").stdout)
    assert {i["node"] for i in instances} == {NODE}
    nodes = json.loads(ozy("get", "nodes", "-o", "json").stdout)
    assert nodes[0]["allocated"]["memory"] == 3 * (64 + 32) * 1024 * 1024
    assert "simple-webapp-0" in ozy("get", "instances").stdout
    assert "Events" in ozy("describe", "job", "simple-webapp").stdout
    instance = json.loads(ozy("describe", "instance", "simple-webapp-0", "-o", "json").stdout)
    assert instance["node"] == NODE and instance["health"] == "healthy"
    assert {c["name"] for c in instance["containers"]} == {"app", "db"}
    events = instance["events"]
    assert events and all(event["instance"] == "simple-webapp-0" for event in events)
    described_node = ozy("describe", "node", NODE).stdout
    assert "simple-webapp-2" in described_node and "ready" in described_node
    nowhere = ozy("describe", "instance", "simple-webapp-9", check=False)
    assert nowhere.returncode == 1 and "there is no instance 'simple-webapp-9'" in nowhere.stderr

    logs = ozy("logs", "simple-webapp-0", "-c", "db").stdout
    assert "POSTGRES_USER" in logs or "5432" in logs

    scaled = ozy("scale", "simple-webapp", "4")
    assert "4/4 running" in scaled.stdout

    # The job's 1G shared volume, and a 100M local volume per instance.
    wait_until(
        lambda: "simple-webapp-3/data-scratch" in ozy("get", "volumes").stdout,
        what="local volumes listed",
    )
    volumes = ozy("get", "volumes").stdout
    assert "simple-webapp/data-shared" in volumes
    assert "in-use" in volumes

    in_use = ozy("secret", "delete", "db", "--yes", check=False)
    assert in_use.returncode == 1 and "simple-webapp" in in_use.stderr
    assert "tour-pw" not in ozy("describe", "job", "simple-webapp").stdout

    deleted = ozy("delete", "simple-webapp")
    assert "kept shared volume simple-webapp/data-shared" in deleted.stdout
    wait_until(lambda: not containers_with_label("ozy.job=simple-webapp"), what="pods removed")
    refused = ozy("delete", "volume", "simple-webapp/data-shared", check=False)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr  # no terminal to ask on
    assert "simple-webapp/data-shared" in ozy("get", "volumes").stdout
    ozy("delete", "volume", "simple-webapp/data-shared", "--yes")
    wait_until(lambda: "no volumes" in ozy("get", "volumes").stdout, what="volumes removed")

    down = ozy("down", "--data-dir", str(ozy.data_dir))
    assert "cluster stopped" in down.stdout
    assert (ozy.data_dir / "etcd").is_dir()  # the data dir is kept
    assert "no cluster was running" in ozy("down", "--data-dir", str(ozy.data_dir)).stdout


def test_errors_are_clear_and_exit_non_zero(ozy: Ozy, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad_Name\ncontainers: {app: {image: x, memory: 2X}}\n")
    result = ozy("apply", "-f", str(bad), check=False)
    assert result.returncode == 2
    assert "containers.app.memory: '2X' is not a size like 512M or 2G" in result.stderr
    assert "name:" in result.stderr

    missing = ozy("describe", "job", "nope", check=False)
    assert missing.returncode == 1 and "there is no job named 'nope'" in missing.stderr

    unreachable = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "get", "jobs", "--api", "http://127.0.0.1:9"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unreachable.returncode == 1 and "cannot reach the Ozymandias API" in unreachable.stderr

    misplaced = ozy("delete", "some-job", "--forget", check=False)
    assert misplaced.returncode == 2 and "No such option: --forget" in misplaced.stderr

    assert "Usage" in ozy("apply", "--help").stdout


KEEPER = """
name: keeper
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    memory: 16M
"""


def test_a_second_daemon_on_a_live_clusters_directories_refuses_and_touches_nothing(
    ozy: Ozy, tmp_path: Path
) -> None:
    spec = tmp_path / "keeper.yaml"
    spec.write_text(KEEPER)
    ozy("apply", "-f", str(spec))
    pods = {c["Id"] for c in containers_with_label(f"ozy.node={NODE}")}

    # `ozy up` in the foreground, on the data dir of the detached cluster.
    second_up = ozy(
        "up", "--data-dir", str(ozy.data_dir), "--api-port", str(free_port()),
        "--etcd-port", str(free_port()), "--name", NODE, check=False,
    )  # fmt: skip
    assert second_up.returncode == 1, second_up
    assert "cluster already running (pid" in second_up.stderr
    # `ozy node run` on the running node's data dir, then on its run dir alone.
    for data_dir in (ozy.data_dir / "nodes" / NODE, tmp_path / "elsewhere"):
        second_node = ozy(
            "node", "run", "--name", NODE, "--etcd", f"http://127.0.0.1:{ozy.etcd_port}",
            "--data-dir", str(data_dir), "--api-port", str(free_port()), check=False,
        )  # fmt: skip
        assert second_node.returncode == 1, second_node
        assert f"node {NODE} is already running (pid" in second_node.stderr

    # The first cluster still serves, with the same pods, all of them running.
    assert {c["Id"] for c in containers_with_label(f"ozy.node={NODE}")} == pods
    assert all(c["State"] == "running" for c in containers_with_label(f"ozy.node={NODE}"))
    instances = json.loads(ozy("get", "instances", "keeper", "-o", "json").stdout)
    assert [i["state"] for i in instances] == ["running"]
    assert "1/1 running" in ozy("scale", "keeper", "1").stdout


def test_applying_a_fix_is_judged_on_its_own_version_and_skips_the_old_back_off(
    ozy: Ozy, tmp_path: Path
) -> None:
    spec = tmp_path / "fixme.yaml"
    spec.write_text(KEEPER.replace("keeper", "fixme").replace("ozy-example-tools", "ozy-not-built"))
    # An instance that cannot run fails its deployment at once, and apply says why.
    broken = ozy("apply", "-f", str(spec), "--timeout", "20", check=False)
    assert broken.returncode == 1, broken.stderr
    assert "fixme-0 failed (failed" in broken.stderr and "is not present" in broken.stderr

    def reason() -> str:
        listed = json.loads(ozy("get", "instances", "fixme", "-o", "json").stdout)
        return str(listed[0]["reason"]) if listed else ""

    # Let the image's pull back off to 20 s (5 s doubling, as Kubernetes' ImagePullBackOff),
    # so waiting it out would show.
    wait_until(lambda: "retrying in 20s" in reason(), timeout=120, what="a 20 s back-off")

    spec.write_text(KEEPER.replace("keeper", "fixme"))
    fixed = ozy("apply", "-f", str(spec))
    assert "version 2 of fixme deployed: 1/1 healthy" in fixed.stdout

    events = json.loads(ozy("get", "events", "--job", "fixme", "-o", "json").stdout)
    backed_off = max(
        e["time"] for e in events if e["kind"] == "instance-failed" and "20s" in e["message"]
    )
    started = [e["time"] for e in events if e["kind"] == "instance-started"]
    assert started and started[-1] < backed_off + 20, events  # before the old retry was due


NOTES = """
name: notes
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    memory: 16M
    volumes:
      - {type: local, path: /data, space: 10M}
"""


def test_down_keeps_local_volumes_for_the_next_up_and_down_volumes_removes_them(
    ozy: Ozy, tmp_path: Path
) -> None:
    spec = tmp_path / "notes.yaml"
    spec.write_text(NOTES)
    ozy("apply", "-f", str(spec))
    run("podman", "exec", app_container("notes", 0), "sh", "-c", "echo kept > /data/note")

    ozy("down", "--data-dir", str(ozy.data_dir))
    ozy(*ozy.up_arguments)
    ozy("apply", "-f", str(spec))  # unchanged: waits for the instance to be healthy again
    note = run("podman", "exec", app_container("notes", 0), "cat", "/data/note").stdout
    assert note == "kept\n"

    refused = ozy("down", "--data-dir", str(ozy.data_dir), "--volumes", check=False)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr  # no terminal to ask on
    assert "cluster stopped" not in refused.stdout  # refused before stopping anything
    removed = ozy("down", "--data-dir", str(ozy.data_dir), "--volumes", "--yes")
    assert "removed the local volumes of 1 instance(s)" in removed.stdout
    assert not list(ozy.data_dir.glob("nodes/*/local-volumes/*/*/*.img"))


def test_up_avoids_a_subnet_the_host_uses_and_says_why_it_cannot_start(
    tmp_path: Path, pod_range: str, example_images: None
) -> None:
    """A podman network left by an earlier node of another name holds the first /24."""
    stale, first = "ozy-stale-cli-test", next(IPv4Network(pod_range).subnets(new_prefix=24))
    api_port = free_port()
    ozy = Ozy(f"http://127.0.0.1:{api_port}", tmp_path / "ozy", etcd_port=free_port_pair())
    run("podman", "network", "create", "--subnet", str(first), stale)
    try:
        taken = ozy(*ozy.up_arguments, "--pod-subnet", str(first), check=False)
        assert taken.returncode == 1
        reason = taken.stderr.strip().splitlines()[-1]  # after the progress lines
        assert reason.startswith("error: ozy up failed: no pod subnet for cli-node: "), reason
        assert f"pod subnet {first} is already used on this host, by podman network {stale}" in (
            reason
        )

        ozy(*ozy.up_arguments)
        network = json.loads(run("podman", "network", "inspect", f"ozy-{NODE}").stdout)[0]
        subnet = IPv4Network(network["subnets"][0]["subnet"])
        assert subnet.subnet_of(IPv4Network(pod_range)) and not subnet.overlaps(first)
        assert (
            f"is used on this host by podman network {stale}"
            not in (ozy.data_dir / "up.log").read_text()
        )  # it was never this node's: nothing to warn of
    finally:
        ozy("down", "--data-dir", str(ozy.data_dir), check=False)
        remove_everything_of_node(NODE)
        run("podman", "network", "rm", "-f", stale, check=False)


def test_events_by_limit_and_age_and_a_recreated_job_describes_only_its_own(
    ozy: Ozy, tmp_path: Path
) -> None:
    spec = tmp_path / "keeper.yaml"
    spec.write_text(KEEPER)
    ozy("apply", "-f", str(spec))
    ozy("delete", "keeper")
    ozy("apply", "-f", str(spec))

    everything = json.loads(ozy("get", "events", "--job", "keeper", "-o", "json").stdout)
    assert [e["kind"] for e in everything].count("job-deleted") == 1
    newest = json.loads(ozy("get", "events", "--limit", "2", "-o", "json").stdout)
    after = json.loads(ozy("get", "events", "--limit", "1000", "-o", "json").stdout)
    assert len(newest) == 2 and newest[0]["time"] <= newest[1]["time"]
    assert all(event in after for event in newest)
    assert after.index(newest[0]) >= len(after) - 5  # the newest two (a few may come after)
    assert json.loads(ozy("get", "events", "--since", "1h", "-o", "json").stdout)
    bad = ozy("get", "events", "--since", "5 fortnights", check=False)
    assert bad.returncode == 2 and "not a duration like 30s" in bad.stderr

    described = json.loads(ozy("describe", "job", "keeper", "-o", "json").stdout)
    kinds = [e["kind"] for e in described["events"]]
    assert "job-deleted" not in kinds and kinds.count("job-committed") == 1, kinds


LABELLED = """
name: {name}
labels: {{tier: {tier}}}
containers:
  app:
    image: localhost/ozy-example-tools:latest
    command: ["sleep", "3600"]
    memory: 16M
"""


def test_label_selectors_and_wide_tables(ozy: Ozy, tmp_path: Path) -> None:
    def names(*arguments: str) -> list[str]:
        return [item["name"] for item in json.loads(ozy(*arguments, "-o", "json").stdout)]

    for name, tier in (("sel-web", "web"), ("sel-db", "db")):
        (tmp_path / f"{name}.yaml").write_text(LABELLED.format(name=name, tier=tier))
        ozy("apply", "-f", str(tmp_path / f"{name}.yaml"))

    assert names("get", "jobs", "-l", "tier=web") == ["sel-web"]
    assert names("get", "jobs", "-l", "tier") == ["sel-db", "sel-web"]
    assert names("get", "jobs", "-l", "!tier") == []
    assert names("get", "instances", "-l", "tier!=web") == ["sel-db-0"]
    assert names("get", "instances", "-l", "tier==web,!legacy") == ["sel-web-0"]
    table = ozy("get", "jobs", "-l", "tier=db", "-o", "wide").stdout
    assert "sel-db" in table and "sel-web" not in table and "tier=db" in table
    # `ozy up`'s node has no labels.
    assert names("get", "nodes", "-l", "!zone") == [NODE]
    assert "no nodes" in ozy("get", "nodes", "-l", "zone=a").stdout

    bad = ozy("get", "jobs", "-l", "tier in (web,db)", check=False)
    assert bad.returncode == 2 and "set-based selectors (in, notin) are not supported" in bad.stderr
    bad = ozy("get", "instances", "-l", "tier=a=b", check=False)
    assert bad.returncode == 2 and "--selector: requirement 'tier=a=b'" in bad.stderr

    # New labels select the job at once, and restart no pod.
    pods = {c["Id"] for c in containers_with_label("ozy.job=sel-web")}
    (tmp_path / "sel-web.yaml").write_text(LABELLED.format(name="sel-web", tier="frontend"))
    ozy("apply", "-f", str(tmp_path / "sel-web.yaml"))
    assert names("get", "jobs", "-l", "tier=frontend") == ["sel-web"]
    assert names("get", "instances", "-l", "tier=frontend") == ["sel-web-0"]
    assert {c["Id"] for c in containers_with_label("ozy.job=sel-web")} == pods

    # Piped at 80 columns: whole rows, nothing cut; REASON only with -o wide.
    narrow = {**ozy.environment(), "COLUMNS": "80"}
    listed = json.loads(ozy("get", "instances", "-o", "json").stdout)
    for output, has_reason in (("table", False), ("wide", True)):
        text = subprocess.run(
            [sys.executable, "-m", "ozymandias.cli.main", "get", "instances", "-o", output],
            capture_output=True, text=True, timeout=60, cwd=REPO, env=narrow, check=True,
        ).stdout  # fmt: skip
        lines = text.splitlines()
        assert "…" not in text and ("REASON" in lines[0]) is has_reason, text
        for instance in listed:
            row = next(line for line in lines if line.startswith(instance["name"] + " "))
            assert instance["podIP"] in row, text
