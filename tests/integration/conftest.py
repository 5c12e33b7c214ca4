"""Shared fixtures: one etcd and one blackholed pod range for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import token_in_environment
from tests.support.etcd import EtcdServer
from tests.support.http_app import http_app
from tests.support.machine import (
    CLUSTER_CIDR,
    blackholed,
    require_tools,
    run,
    unmount_everything_under,
)
from tests.support.nodes import (
    NodeFactory,
    NodeProcess,
    remove_everything_of_node,
    unused_pod_subnets,
)
from tests.support.registry import RegistryServer
from tests.support.waiting import wait_until

REQUIRED_IMAGES = (
    "localhost/ozy-example-web",
    "localhost/ozy-example-db",
    "localhost/ozy-example-tools",
    "localhost/ozy-example-compose-web",
    "localhost/ozy-example-compose-api",
    "localhost/ozy-example-compose-db",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def pod_range() -> Iterator[str]:
    require_tools()
    with blackholed(CLUSTER_CIDR):
        yield CLUSTER_CIDR


@pytest.fixture(scope="session", autouse=True)
def admin_token_for_the_cli() -> Iterator[None]:
    """Every `ozy` command a test runs carries the test admin token (see tests/support/auth.py)."""
    with token_in_environment():
        yield


@pytest.fixture(scope="session")
def example_images() -> None:
    present = run("podman", "images", "--format", "{{.Repository}}").stdout.split()
    missing = [image for image in REQUIRED_IMAGES if image not in present]
    if missing:
        raise RuntimeError(f"example images {missing} are missing: run `make setup` first")


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory, pod_range: str) -> Iterator[EtcdServer]:
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_node(etcd: EtcdServer, example_images: None, tmp_path: Path) -> Iterator[NodeFactory]:
    """Start `ozy node run` daemons for one test; stop them and remove their leftovers after.

    The cluster state is wiped first, so a test sees only its own nodes and jobs.
    """
    etcd.wipe()
    started: list[NodeProcess] = []

    def start(name: str, **options: object) -> NodeProcess:
        node = NodeProcess(
            name=name,
            etcd_url=etcd.url,
            work_dir=tmp_path / "nodes",
            # Nodes start one after another and each creates its network before
            # it answers, so the next one sees that subnet taken. A test may pick
            # its own, away from where other sessions' tests race for theirs.
            pod_subnet=str(options.pop("pod_subnet", "")) or unused_pod_subnets(1, first=100)[0],
            **options,  # type: ignore[arg-type]
        )
        started.append(node)
        node.start()
        # Answering is not being known: a job submitted before the others' mirrors
        # show this node would be planned without it.
        live = [n for n in started if n.process is not None and n.process.poll() is None]
        names = {n.name for n in live}
        wait_until(
            lambda: all(names <= n.known_nodes() for n in live),
            timeout=30,
            what="every node to see every other",
        )
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()
        for node in started:
            remove_everything_of_node(node.name)
        unmount_everything_under(tmp_path)
        etcd.wipe()


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory, example_images: None
) -> Iterator[RegistryServer]:
    """One loopback registry (htpasswd, TLS from a test CA) for the session, holding the
    example web image as `web:1`, `web:2` and `web:latest`."""
    server = RegistryServer(tmp_path_factory.mktemp("registry"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.remove_pulled_images()


@pytest.fixture
def app_port() -> Iterator[int]:
    """A stand-in pod on 127.0.0.1 (tests/support/http_app.py): its port."""
    with http_app() as port:
        yield port
