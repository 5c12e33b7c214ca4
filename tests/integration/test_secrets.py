"""Secrets on real nodes: delivered to containers, and found nowhere else.

The container sees each value in its environment and in its file (mode 0400,
on a tmpfs); a dump of every key and value in etcd, every API answer, the
node's log and podman's labels hold none of them. References to what does
not exist are refused at submit; a secret in use is not deleted; changing
one rolls its jobs out; rotating the key re-seals everything and keeps jobs
running.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from ozymandias.agent.secret_delivery import filesystem_type
from ozymandias.secrets.keyring import read_key_file, write_new_key_file
from tests.support.etcd import EtcdServer
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container, containers_with_label
from tests.support.waiting import wait_until

TOOLS_IMAGE = "localhost/ozy-example-tools:latest"


def secret_job(name: str, count: int = 1, extra: str = "") -> str:
    return f"""\
name: {name}
numInstances: {count}
{extra}
containers:
  app:
    image: {TOOLS_IMAGE}
    memory: 16M
    secrets:
      - {{secret: db, key: password, env: DB_PASSWORD}}
      - {{secret: db, key: cert, path: /run/secrets/tls.crt}}
"""


def key_node(make_node: NodeFactory, name: str, key_file: Path) -> NodeProcess:
    return make_node(name, extra_args=("--secrets-key-file", str(key_file)))


def set_secret(node: NodeProcess, values: dict[str, str]) -> dict[str, Any]:
    response = node.request("PUT", "/v1/secrets/db", json={"data": values})
    assert response.status_code == 200, response.text
    return dict(response.json())


def in_container(job: str, index: int, script: str) -> str:
    container = app_container(job, index)
    return subprocess.run(
        ["podman", "exec", container, "sh", "-c", script],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments, "--api", node.api],
        capture_output=True,
        text=True,
        timeout=60,
    )


def every_get_answer(node: NodeProcess, job: str) -> str:
    """The text of every GET the API offers (logs aside: they are the container's own output)."""
    names = {"name": job, "instance": f"{job}-0", "job": job}
    texts = []
    for path, operations in node.request("GET", "/openapi.json").json()["paths"].items():
        if "get" not in operations or path.endswith("/logs"):
            continue
        concrete = path.format(**names).replace("/v1/secrets/" + job, "/v1/secrets/db")
        texts.append(node.request("GET", concrete).text)
    return "\n".join(texts)


def test_a_container_gets_its_secrets_and_nothing_else_holds_them(
    make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets.key"
    write_new_key_file(key_file)
    node = key_node(make_node, "sec1", key_file)
    password, cert = f"pw-{uuid.uuid4().hex}", f"cert-{uuid.uuid4().hex}"
    made = set_secret(node, {"password": password, "cert": cert})
    assert made["keys"] == ["cert", "password"] and made["version"] == 1
    assert password not in str(made)

    # Missing secrets and keys are refused at submit, and nothing is written.
    missing_key = secret_job("nokey").replace("key: cert", "key: absent")
    for name, spec in [
        ("nosecret", secret_job("nosecret").replace("db", "nope")),
        ("nokey", missing_key),
    ]:
        refused = node.apply(spec)
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("#unknown-secret")
        assert etcd.keys(f"/ozy/jobs/{name}") == []

    assert node.apply(secret_job("vault")).status_code == 201
    node.wait_running("vault", 1)
    seen = in_container(
        "vault",
        0,
        'echo "$DB_PASSWORD"; cat /run/secrets/tls.crt; echo; stat -c %a /run/secrets/tls.crt',
    ).split()
    assert seen == [password, cert, "400"]
    pod_dir = Path("/dev/shm/ozymandias/sec1")
    assert filesystem_type(pod_dir) == "tmpfs"
    assert any(pod_dir.rglob("*")), "the pod's secret file lives under the node's tmpfs dir"

    dump = etcd.etcdctl("get", "--prefix", "").stdout
    assert "/ozy/secrets/db" in dump
    for value in (password, cert):
        assert value not in dump
        assert value not in every_get_answer(node, "vault")
        assert value not in node.log_path.read_text()
        assert value not in str([c["Labels"] for c in containers_with_label("ozy.job=vault")])
    described = ozy(node, "describe", "job", "vault")
    assert described.returncode == 0, described.stderr
    assert "DB_PASSWORD" in described.stdout and password not in described.stdout
    shown = ozy(node, "secret", "get", "db", "-o", "json")
    assert shown.returncode == 0 and password not in shown.stdout

    # In use: not deleted, and the answer names the job.
    refused = node.request("DELETE", "/v1/secrets/db")
    assert refused.status_code == 409 and refused.json()["jobs"] == ["vault"]
    assert node.request("DELETE", "/v1/jobs/vault").status_code == 200
    wait_until(
        lambda: not (pod_dir.exists() and any(pod_dir.iterdir())),
        timeout=30,
        what="the pod's secret files to go with it",
    )
    assert node.request("DELETE", "/v1/secrets/db").status_code == 200
    assert etcd.keys("/ozy/secrets/") == []


def test_a_changed_secret_rolls_out_and_a_rotation_keeps_jobs_running(
    make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets.key"
    old_key = write_new_key_file(key_file)
    node = key_node(make_node, "sec2", key_file)
    set_secret(node, {"password": "first-password", "cert": "c"})
    assert node.apply(secret_job("rolling")).status_code == 201
    node.wait_running("rolling", 1)
    first_container = app_container("rolling", 0)

    # Rotation: the new key goes into the node's file first (read again on change).
    new_file = tmp_path / "new.key"
    new_key = write_new_key_file(new_file)
    with key_file.open("a") as file:
        file.write(new_file.read_text())
    rotated = ozy(node, "secret", "rotate-key", "--new-key-file", str(new_file), "-o", "json")
    assert rotated.returncode == 0, rotated.stderr
    assert f'"{new_key}"' in rotated.stdout and "db" in rotated.stdout
    record = etcd.get_json("/ozy/secrets/db")
    assert record["key_id"] == new_key != old_key
    assert record["version"] == 1
    assert app_container("rolling", 0) == first_container, "a rotation restarts nothing"
    assert node.request("GET", "/v1/jobs/rolling").json()["version"] == 1

    # A change: a new version, rolled out, with the new value (opened with the new key).
    changed = set_secret(node, {"password": "second-password", "cert": "c"})
    assert changed["rolledOut"] == ["rolling"] and changed["version"] == 2

    def replaced_with_new_value() -> bool:
        # The new version's instance starts beside the old one, under a new index.
        instances = node.instances("rolling")
        if [i["specVersion"] for i in instances] != [2]:
            return False
        index = int(instances[0]["index"])
        try:
            container = app_container("rolling", index)
            value = in_container("rolling", index, 'echo "$DB_PASSWORD"').strip()
        except (AssertionError, subprocess.CalledProcessError):
            return False
        return container != first_container and value == "second-password"

    wait_until(
        replaced_with_new_value, timeout=60, what="the job's pod to be replaced with the new value"
    )
    assert node.request("GET", "/v1/jobs/rolling").json()["version"] == 2
    # A key the job uses can't be left out.
    refused = node.request("PUT", "/v1/secrets/db", json={"data": {"password": "third"}})
    assert refused.status_code == 409 and refused.json()["jobs"] == ["rolling (cert)"]
    # Setting the same values again changes nothing.
    assert set_secret(node, {"password": "second-password", "cert": "c"})["changed"] is False


def test_a_node_without_the_key_says_so(make_node: NodeFactory, tmp_path: Path) -> None:
    key_file = tmp_path / "secrets.key"
    write_new_key_file(key_file)
    keyed = key_node(make_node, "sec3", key_file)
    keyless = make_node("sec4")
    refused = keyless.request("PUT", "/v1/secrets/db", json={"data": {"password": "p"}})
    assert refused.status_code == 409 and "--secrets-key-file" in refused.json()["detail"]
    set_secret(keyed, {"password": "p", "cert": "c"})
    spec = secret_job("keyless", extra="schedulingConstraints: {mayBeScheduledOn: [sec4]}")
    assert keyed.apply(spec).status_code == 201

    def failed_reason() -> str | None:
        items = keyed.instances("keyless")
        if items and items[0]["state"] == "failed":
            return str(items[0].get("reason") or items[0])
        return None

    reason = wait_until(failed_reason, timeout=30, what="the instance to fail with a reason")
    assert "--secrets-key-file" in reason
    assert read_key_file(key_file).first_id  # the keyed node's file is untouched
