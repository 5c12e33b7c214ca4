"""Fixtures for tests on several sandboxed hosts: one network and etcd cluster per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import token_in_environment
from tests.support.hosts import (
    HOST_NAME_PREFIX,
    EtcdCluster,
    Host,
    HostFactory,
    TestNetwork,
    known_nodes,
    leftovers,
)
from tests.support.machine import CLUSTER_CIDR, blackholed, require_tools, run
from tests.support.waiting import wait_until

REQUIRED_IMAGES = ("localhost/ozy-example-web", "localhost/podman-pause")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/multihost" in str(item.fspath):
            item.add_marker(pytest.mark.multihost)


@pytest.fixture(scope="session", autouse=True)
def admin_token_for_the_cli() -> Iterator[None]:
    """Every `ozy` command a test runs carries the test admin token (see tests/support/auth.py)."""
    with token_in_environment():
        yield


@pytest.fixture(scope="session")
def test_network() -> Iterator[None]:
    require_tools()
    for tool in ("nsenter", "unshare", "setsid", "iptables"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"multi-host tests need {tool}")
    present = run("podman", "images", "--format", "{{.Repository}}").stdout.split()
    missing = [image for image in REQUIRED_IMAGES if image not in present]
    if missing:
        raise RuntimeError(f"images {missing} are missing: run `make setup` first")
    # The pod range too: a host's pods live inside its netns, but nothing may leak.
    with blackholed(CLUSTER_CIDR), TestNetwork():
        yield
    assert leftovers() == [], "the multi-host harness left things behind"


@pytest.fixture(scope="session")
def etcd_cluster(
    tmp_path_factory: pytest.TempPathFactory, test_network: None
) -> Iterator[EtcdCluster]:
    """Three etcd members on the bridge, shared by every test (each wipes /ozy/ first)."""
    cluster = EtcdCluster(tmp_path_factory.mktemp("etcd-cluster"))
    try:
        cluster.start()
        cluster.grant_test_admin()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def make_hosts(etcd_cluster: EtcdCluster, tmp_path: Path) -> Iterator[HostFactory]:
    """Create hosts running node daemons for one test; destroy every one of them after."""
    etcd_cluster.start()  # brings back members a previous test stopped
    etcd_cluster.wipe()
    created: list[Host] = []

    def make(count: int, **options: object) -> list[Host]:
        hosts = []
        for _ in range(count):
            index = len(created) + 1
            host = Host(
                name=f"{HOST_NAME_PREFIX}{index}",
                index=index,
                work_dir=tmp_path / f"h{index}",
                etcd_endpoints=etcd_cluster.endpoints,
                **options,  # type: ignore[arg-type]
            )
            created.append(host)
            host.create()
            hosts.append(host)
        for host in hosts:
            host.start_daemon(wait=False)
        for host in hosts:
            host.wait_ready()
        # A host answering does not mean its peers know it yet: a job submitted
        # before would be planned without it.
        live = [host for host in created if host.answers()]
        names = {host.name for host in live}
        wait_until(
            lambda: all(names <= known_nodes(host) for host in live),
            timeout=30,
            what="every host to see every other",
        )
        return hosts

    try:
        yield make
    finally:
        for host in created:
            host.destroy()
        etcd_cluster.wipe()
