"""Images pulled from a real registry (tests/support/registry.py: Debian's docker-registry on
loopback, htpasswd auth, TLS from a test CA): with the login `ozy registry login` stores, the
pull works; with a wrong password it fails as unauthorized; a wrong tag is "not found"; a
registry that does not answer is "registry unreachable"; `pull: always` pulls at every
start; two instances of one image on a node cause one pull."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ozymandias.secrets.keyring import write_new_key_file
from tests.support.etcd import EtcdServer
from tests.support.machine import free_port
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.registry import RegistryServer
from tests.support.waiting import wait_until


def ozy(
    node: NodeProcess, *arguments: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`ozy` against `node`'s API, with the suite's admin token (OZY_TOKEN)."""
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={**os.environ, "OZY_API": node.api},
    )


def job(name: str, image: str, count: int = 1, pull: str | None = None) -> str:
    policy = f"    pull: {pull}\n" if pull else ""
    return (
        f"name: {name}\nnumInstances: {count}\ncontainers:\n  app:\n"
        f"    image: {image}\n    memory: 32M\n{policy}"
    )


@pytest.fixture
def pulls_undone(registry: RegistryServer) -> Iterator[RegistryServer]:
    """Requested before `make_node`, so the pulled names go after the node's pods are gone."""
    registry.remove_pulled_images()
    try:
        yield registry
    finally:
        registry.remove_pulled_images()


def instance(node: NodeProcess, job_name: str, index: int = 0) -> dict[str, Any]:
    found = [i for i in node.instances(job_name) if i["name"] == f"{job_name}-{index}"]
    return found[0] if found else {}


def failed_with(node: NodeProcess, job_name: str, reason: str) -> str:
    def failed() -> str | None:
        item = instance(node, job_name)
        if item.get("state") == "failed" and reason in item.get("reason", ""):
            return str(item["reason"])
        return None

    return str(wait_until(failed, timeout=90, what=f"{job_name}-0 failed with {reason!r}"))


def login(node: NodeProcess, registry: RegistryServer, password: str) -> None:
    done = ozy(
        node,
        "registry", "login", registry.host, "-u", registry.username,
        "--password-stdin", "--ca-file", str(registry.ca_pem),
        stdin=password + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_pulls_from_a_private_registry_with_the_stored_login(
    pulls_undone: RegistryServer, make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    registry = pulls_undone
    key_file = tmp_path / "secrets.key"
    write_new_key_file(key_file)
    node = make_node("reg1", extra_args=("--secrets-key-file", str(key_file)))

    # A wrong password: the registry refuses, and the reason says so.
    login(node, registry, "not-the-password")
    assert node.apply(job("reg-private", registry.image("1"))).status_code == 201
    reason = failed_with(node, "reg-private", "image pull: unauthorized")
    assert reason.startswith(f"image pull: unauthorized for {registry.image('1')}; retrying in")
    events = node.request("GET", "/v1/events", params={"job": "reg-private"}).json()
    assert any("image pull: unauthorized" in e["message"] for e in events), events

    # The right one: the failed instance's next try (5 s later) pulls and runs.
    login(node, registry, registry.password)
    node.wait_running("reg-private", 1, timeout=60)
    listed = ozy(node, "registry", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert registry.host in listed.stdout and registry.username in listed.stdout
    assert registry.password not in listed.stdout
    assert registry.password not in etcd.etcdctl("get", "--prefix", "").stdout
    assert registry.password not in node.log_path.read_text()

    # A wrong tag is not found; a registry that does not answer is unreachable.
    assert node.apply(job("reg-typo", registry.image("nope"))).status_code == 201
    failed_with(node, "reg-typo", f"image pull: not found for {registry.image('nope')}")
    nowhere = f"127.0.0.1:{free_port()}/web:1"
    assert node.apply(job("reg-down", nowhere)).status_code == 201
    failed_with(node, "reg-down", f"image pull: registry unreachable for {nowhere}")
    assert instance(node, "reg-private")["state"] == "running", "the other jobs are not held up"

    # Logged out, the CA that came with the login is gone too.
    assert ozy(node, "registry", "logout", registry.host).returncode == 0
    assert node.apply(job("reg-anon", registry.image("2"))).status_code == 201
    failed_with(node, "reg-anon", f"image pull: untrusted certificate for {registry.image('2')}")


def test_pull_always_pulls_at_every_start_and_concurrent_starts_pull_once(
    pulls_undone: RegistryServer, make_node: NodeFactory, tmp_path: Path
) -> None:
    registry = pulls_undone
    key_file = tmp_path / "secrets.key"
    write_new_key_file(key_file)
    node = make_node("reg2", extra_args=("--secrets-key-file", str(key_file)))
    login(node, registry, registry.password)

    # Two instances of an image not present yet, on one node: one pull.
    before = registry.manifest_fetches("2")
    assert node.apply(job("reg-twins", registry.image("2"), count=2)).status_code == 201
    node.wait_running("reg-twins", 2)
    assert registry.manifest_fetches("2") - before == 1

    # A key rotation seals the login again; the pulls below use it so.
    new_key = tmp_path / "new.key"
    new_id = write_new_key_file(new_key)
    with key_file.open("a") as keys:
        keys.write(new_key.read_text())
    rotated = node.request("POST", "/v1/secrets/rotate-key", json={"keyId": new_id})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["resealedLogins"] == [registry.host]

    # `:latest` defaults to always: every new pod pulls, though the image is present.
    before = registry.manifest_fetches("latest")
    assert node.apply(job("reg-latest", registry.image("latest"))).status_code == 201
    node.wait_running("reg-latest", 1)
    assert registry.manifest_fetches("latest") - before == 1
    restarted = node.request("POST", "/v1/instances/reg-latest-0/restart")
    assert restarted.status_code == 202, restarted.text
    wait_until(
        lambda: registry.manifest_fetches("latest") - before == 2,
        timeout=60,
        what="a second pull for the new pod",
    )
    node.wait_running("reg-latest", 1)
