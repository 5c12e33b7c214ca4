"""`ozy node`: one node daemon, composed of the services in this package.

A node registers itself in etcd under a lease, follows the cluster state,
runs its share of the pods, and serves the HTTP API through which any node
accepts jobs. Every node runs the same daemon; there is no master.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from ozymandias.agent.node_agent import NodeAgent
from ozymandias.api.app import create_app
from ozymandias.cluster.records import Event, Node, Resources
from ozymandias.jobs.service import JobService
from ozymandias.network import host_routes
from ozymandias.runtime.podman import PodmanRuntime
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd, StoreUnavailable, parse_endpoint
from ozymandias.store.lease import LeaseKeeper

log = logging.getLogger(__name__)

DEFAULT_API_PORT = 7070
DEFAULT_LEASE_TTL = 5
DEFAULT_CLUSTER_CIDR = "10.213.0.0/16"
DEFAULT_POD_SUBNET = "10.213.1.0/24"

# How long a starting node waits for etcd before giving up with a clear error.
ETCD_WAIT_SECONDS = 60


def default_data_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ozymandias"


@dataclass
class NodeConfig:
    name: str
    etcd: str = "http://127.0.0.1:2379"
    labels: dict[str, str] = field(default_factory=dict)
    memory: int | None = None  # None: most of the host's memory
    disk: int | None = None  # None: most of the free space under data_dir
    address: str | None = None  # None: the address this host uses to reach etcd
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    data_dir: Path | None = None  # None: <data root>/nodes/<name>
    lease_ttl: int = DEFAULT_LEASE_TTL
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    pod_subnet: str = DEFAULT_POD_SUBNET
    podman_env: dict[str, str] = field(default_factory=dict)

    @property
    def node_dir(self) -> Path:
        return self.data_dir or default_data_root() / "nodes" / self.name

    @property
    def network_name(self) -> str:
        return f"ozy-{self.name}"


def host_memory() -> int:
    """MemTotal from /proc/meminfo, in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def default_capacity(config: NodeConfig) -> Resources:
    """What the node offers unless told: 90% of memory and of free disk.

    The rest is headroom for the host, the daemon and podman itself.
    """
    config.node_dir.mkdir(parents=True, exist_ok=True)
    memory = config.memory if config.memory is not None else int(host_memory() * 0.9)
    disk = (
        config.disk
        if config.disk is not None
        else int(shutil.disk_usage(config.node_dir).free * 0.9)
    )
    return Resources(memory=memory, disk=disk)


def address_towards(endpoint: str) -> str:
    """The local address this host would use to reach `endpoint` (no packet is sent)."""
    host, port = parse_endpoint(endpoint)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the node daemon owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class NodeDaemon:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.etcd = Etcd(config.etcd)
        self.store = ClusterStore(self.etcd)
        self.mirrors = self.store.mirrors()
        socket_path = Path("/run/ozymandias") / config.name / "podman.sock"
        self.runtime = PodmanRuntime(socket_path, env=config.podman_env or None)
        self.lease_id = 0
        self._added_blackhole = False
        self._stopping = asyncio.Event()

    @property
    def _lease_file(self) -> Path:
        return self.config.node_dir / "lease.json"

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Join the cluster, serve until SIGTERM/SIGINT (or `stop()`), then leave cleanly."""
        config = self.config
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        try:
            await self._wait_for_etcd()
            capacity = default_capacity(config)
            address = config.address or address_towards(config.etcd)
            api_host = address if config.api_host == "0.0.0.0" else config.api_host
            api_url = f"http://{api_host}:{config.api_port}"
            await self.runtime.start()
            self._added_blackhole = await host_routes.ensure_blackhole(config.cluster_cidr)
            await self.runtime.ensure_network(config.network_name, config.pod_subnet)
            await self._take_lease()
            node = Node(
                name=config.name,
                address=address,
                api_url=api_url,
                labels=config.labels,
                capacity=capacity,
                started_at=time.time(),
            )
            if not await self.store.register_node(node, self.lease_id):
                raise SystemExit(f"a live node named {config.name!r} is already registered in etcd")
            await self._serve(node, ready)
        finally:
            await self._leave()

    def stop(self) -> None:
        self._stopping.set()

    async def _serve(self, node: Node, ready: asyncio.Event | None) -> None:
        keeper = LeaseKeeper(self.etcd, self.lease_id, self.config.lease_ttl)
        agent = NodeAgent(
            node.name,
            self.runtime,
            self.store,
            self.mirrors,
            lease_id=lambda: self.lease_id,
            network=self.config.network_name,
        )
        service = JobService(self.store, self.mirrors, node_name=node.name)
        app = create_app(
            service=service, mirrors=self.mirrors, store=self.store, agent=agent, node=node
        )
        server = _Server(
            uvicorn.Config(
                app,
                host=self.config.api_host,
                port=self.config.api_port,
                log_level="warning",
                lifespan="off",
            )
        )
        async with asyncio.TaskGroup() as group:
            mirror_tasks = [group.create_task(mirror.run()) for mirror in self.mirrors.all()]
            keeper_task = group.create_task(keeper.run())
            await self.mirrors.wait_synced()
            agent_task = group.create_task(agent.run())
            server_task = group.create_task(server.serve())
            while not server.started:
                if server_task.done():
                    raise SystemExit(f"the API could not listen on {node.api_url}")
                await asyncio.sleep(0.05)
            await self.store.record_event(
                Event(
                    time=time.time(),
                    kind="node-joined",
                    message=f"node {node.name} joined",
                    node=node.name,
                )
            )
            log.info("node %s is up: API on %s, etcd %s", node.name, node.api_url, self.config.etcd)
            if ready is not None:
                ready.set()
            stopping = asyncio.create_task(self._stopping.wait())
            lost = asyncio.create_task(keeper.lost.wait())
            waits: list[asyncio.Task[Any]] = [stopping, lost, agent_task]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if lost.done():
                log.error("the node's lease was lost; leaving so no instance runs twice")
            stopping.cancel()
            lost.cancel()
            server.should_exit = True
            await server_task
            agent_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent_task
            await agent.stop_all_pods()
            keeper_task.cancel()
            for mirror_task in mirror_tasks:
                mirror_task.cancel()

    async def _wait_for_etcd(self) -> None:
        deadline = time.monotonic() + ETCD_WAIT_SECONDS
        while True:
            try:
                await self.etcd.get(b"/ozy/")
                return
            except StoreUnavailable as error:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"etcd at {self.config.etcd} did not answer: {error}"
                    ) from error
                log.info("waiting for etcd at %s ...", self.config.etcd)
                await asyncio.sleep(1)

    async def _take_lease(self) -> None:
        """Keep the previous run's lease if it is still alive; otherwise start afresh.

        A live lease means peers still count this node's instances as running
        here, so its pods are adopted. An expired one means they may have
        been placed elsewhere already, so local leftovers are removed.
        """
        previous = self._read_lease_file()
        if (
            previous
            and await self.etcd.lease_time_left(previous) > 0
            and await self.store.node_lease(self.config.name) in (previous, None)
        ):
            self.lease_id = previous
            log.info("kept the live lease %x of the previous run", previous)
            return
        if previous:
            stale = await self.runtime.list_pods({"ozy.node": self.config.name})
            log.warning("previous lease expired: removing %d leftover pods", len(stale))
            for pod in stale:
                await self.runtime.remove_pod(pod.name)
        self.lease_id = await self.etcd.grant_lease(self.config.lease_ttl)
        self._lease_file.parent.mkdir(parents=True, exist_ok=True)
        self._lease_file.write_text(json.dumps({"lease_id": self.lease_id}))

    def _read_lease_file(self) -> int | None:
        try:
            return int(json.loads(self._lease_file.read_text())["lease_id"])
        except (OSError, ValueError, KeyError):
            return None

    async def _leave(self) -> None:
        """Give back everything the node holds: lease, network, blackhole, podman service."""
        if self.lease_id:
            with contextlib.suppress(StoreUnavailable):
                await self.etcd.revoke_lease(self.lease_id)
            self._lease_file.unlink(missing_ok=True)
        with contextlib.suppress(Exception):
            await self.runtime.remove_network(self.config.network_name)
        await self.runtime.close()
        if self._added_blackhole:
            await host_routes.remove_blackhole(self.config.cluster_cidr)
        await self.etcd.close()
