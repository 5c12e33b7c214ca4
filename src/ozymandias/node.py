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

import httpx
import uvicorn

from ozymandias.agent.node_agent import NodeAgent
from ozymandias.agent.volumes import PodVolumes, VolumeUpkeep
from ozymandias.api.app import create_app
from ozymandias.cluster.records import Event, Node, Resources, SharedStorage
from ozymandias.daemon_lock import DirectoryInUse, DirectoryLock
from ozymandias.dns.publisher import DnsPublisher
from ozymandias.dns.server import DEFAULT_PORT as DEFAULT_DNS_PORT
from ozymandias.dns.server import DnsServer, Listener, serve_records, upstream_resolvers
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN
from ozymandias.ingress.controller import IngressController
from ozymandias.ingress.haproxy import Haproxy
from ozymandias.jobs.replacement import Replacer
from ozymandias.jobs.service import JobService
from ozymandias.network import ip_routes
from ozymandias.network.firewall import (
    FirewallError,
    IptablesFirewall,
    ensure_bridge_netfilter,
    ensure_liberal_tcp_conntrack,
)
from ozymandias.network.ip_routes import HostGateway, PeerRouteBackend, RouteError, Vxlan
from ozymandias.network.peer_routes import PeerRouter
from ozymandias.network.subnet_lease import SubnetLeaser, SubnetUnavailable
from ozymandias.network.subnets import FlannelSubnet, gateway_of, parse_flannel_env
from ozymandias.runtime.podman import PodmanRuntime
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.etcd import Etcd, StoreUnavailable, parse_endpoints
from ozymandias.store.lease import LeaseKeeper
from ozymandias.volumes.local_disk import LocalDisks
from ozymandias.volumes.shared_dirs import SharedDirs

log = logging.getLogger(__name__)

DEFAULT_API_PORT = 7070
DEFAULT_INGRESS_PORT = 80
DEFAULT_LEASE_TTL = 5
DEFAULT_CLUSTER_CIDR = "10.213.0.0/16"
FLANNEL_SUBNET_ENV = Path("/run/flannel/subnet.env")
NETWORK_BACKENDS = ("host-gw", "vxlan")

# How long a starting node waits for etcd before giving up with a clear error.
ETCD_WAIT_SECONDS = 60

# A fenced node waits for etcd with a back-off doubling up to this, so a long
# outage costs one quiet attempt every few seconds, never a busy loop.
_REJOIN_RETRY_MAX_SECONDS = 10.0

# How long a node without etcd waits for a peer to say whether it reaches etcd.
_PEER_ASK_SECONDS = 1.0


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
    # Where the zone's shared storage (e.g. an NFS mount) is mounted on this
    # host, and how much of it shared volumes may take; None: no shared storage.
    shared_storage: Path | None = None
    shared_capacity: int | None = None  # None: 90% of the shared filesystem's size
    address: str | None = None  # None: the address this host uses to reach etcd
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    data_dir: Path | None = None  # None: <data root>/nodes/<name>
    lease_ttl: int = DEFAULT_LEASE_TTL
    # Seconds without a lease refresh before the node stops its pods (fences);
    # None: the lease TTL. See "Failure handling" in the README.
    fence_after: float | None = None
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    pod_subnet: str | None = None  # None: lease a free /24 of cluster_cidr from etcd
    network_backend: str = "host-gw"  # how pods reach other nodes' pods: NETWORK_BACKENDS
    flannel_env: Path = FLANNEL_SUBNET_ENV  # if present, flannel gives the subnet and routes

    def __post_init__(self) -> None:
        if self.network_backend not in NETWORK_BACKENDS:
            raise ValueError(
                f"--network-backend must be one of {', '.join(NETWORK_BACKENDS)}, "
                f"not {self.network_backend!r}"
            )

    podman_env: dict[str, str] = field(default_factory=dict)
    dns_domain: str = DEFAULT_DOMAIN
    dns_port: int = DEFAULT_DNS_PORT  # on 127.0.0.1, for dig from the host
    ingress_port: int = DEFAULT_INGRESS_PORT  # HTTP ingress, on every address

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


def shared_storage_of(config: NodeConfig) -> SharedStorage | None:
    """What the node declares of its shared storage, if it has any."""
    if config.shared_storage is None:
        return None
    if not config.shared_storage.is_dir():
        raise SystemExit(f"--shared-storage {config.shared_storage} is not a directory")
    capacity = config.shared_capacity
    if capacity is None:
        capacity = int(shutil.disk_usage(config.shared_storage).total * 0.9)
    return SharedStorage(capacity=capacity)


def address_towards(endpoint: str) -> str:
    """The local address this host would use to reach (the first of) `endpoint` (no packet sent)."""
    host, port = parse_endpoints(endpoint)[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


def _lock_directories(name: str, directories: list[Path]) -> list[DirectoryLock]:
    """Lock each directory for this daemon, or exit naming the live daemon that holds it."""
    locks: list[DirectoryLock] = []
    for directory in directories:
        lock = DirectoryLock(directory)
        try:
            lock.acquire()
        except DirectoryInUse as error:
            for held in locks:
                held.release()
            by = f" (pid {error.holder})" if error.holder is not None else ""
            raise SystemExit(
                f"node {name} is already running{by}: {directory} belongs to it; "
                "stop that daemon first, or give this one another --name and --data-dir"
            ) from None
        locks.append(lock)
    return locks


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
        self.dns_store = DnsStore(self.etcd, config.dns_domain)
        self.mirrors = self.store.mirrors()
        # Sockets and files that live as long as the daemon (podman's API, HAProxy's).
        self.run_dir = Path("/run/ozymandias") / config.name
        self.runtime = PodmanRuntime(self.run_dir / "podman.sock", env=config.podman_env or None)
        self.lease_id = 0
        self._added_blackhole = False
        self.pod_subnet = ""  # leased (or flannel's) once the node has a lease
        self._subnets = SubnetLeaser(
            self.store,
            config.name,
            config.cluster_cidr,
            config.node_dir / "pod-subnet",
            requested=config.pod_subnet,
        )
        self.volumes = PodVolumes(
            LocalDisks(config.node_dir / "local-volumes"),
            SharedDirs(config.shared_storage) if config.shared_storage is not None else None,
        )
        self._firewall: IptablesFirewall | None = None
        self._route_backend: PeerRouteBackend | None = None
        self._stopping = asyncio.Event()

    @property
    def _lease_file(self) -> Path:
        return self.config.node_dir / "lease.json"

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Join the cluster, serve until SIGTERM/SIGINT (or `stop()`), then leave cleanly."""
        config = self.config
        loop = asyncio.get_running_loop()
        # Before anything is touched: a second daemon on the same directories
        # would kill the first one's podman service and adopt its pods.
        locks = _lock_directories(config.name, [config.node_dir, self.run_dir])
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        try:
            await self._wait_for_etcd()
            capacity = default_capacity(config)
            shared_storage = shared_storage_of(config)
            address = config.address or address_towards(config.etcd)
            api_host = address if config.api_host == "0.0.0.0" else config.api_host
            api_url = f"http://{api_host}:{config.api_port}"
            await self.runtime.start()
            flannel = self._flannel_subnet()
            if flannel is not None and flannel.network:
                config.cluster_cidr = flannel.network
            self._added_blackhole = await ip_routes.ensure_blackhole(config.cluster_cidr)
            ensure_bridge_netfilter()
            while True:
                await self._take_lease()
                await self._set_up_pod_network(address, flannel)
                node = Node(
                    name=config.name,
                    address=address,
                    api_url=api_url,
                    labels=config.labels,
                    capacity=capacity,
                    started_at=time.time(),
                    pod_subnet=self.pod_subnet,
                    shared_storage=shared_storage,
                )
                if not await self.store.register_node(node, self.lease_id):
                    raise SystemExit(
                        f"a live node named {config.name!r} is already registered in etcd"
                    )
                fenced = await self._serve(node, ready)
                if fenced is None or not await self._wait_to_rejoin():
                    return
                await self.store.record_event(
                    Event(time=time.time(), kind="node-fenced", message=fenced, node=node.name)
                )
        finally:
            await self._leave()
            for lock in locks:
                lock.release()

    def stop(self) -> None:
        self._stopping.set()

    async def _serve(self, node: Node, ready: asyncio.Event | None) -> str | None:
        """Run as a member until stopped (None) or until the lease is lost.

        On losing the lease, the node fences: it stops every pod, because
        peers may already run its instances elsewhere. It returns what it did,
        for the event it records once it can reach etcd again.
        """
        # Fresh mirrors for each membership: after a fence, nothing of the old
        # view may survive into the new one.
        self.mirrors = self.store.mirrors()
        keeper = LeaseKeeper(
            self.etcd,
            self.lease_id,
            self.config.lease_ttl,
            fence_after=self.config.fence_after,
            everyone_cut_off=self._everyone_cut_off,
        )
        dns_records = self.dns_store.records_mirror()
        dns_aliases = self.dns_store.aliases_mirror()
        publisher = DnsPublisher(
            self.dns_store, dns_aliases, node.name, node.address, lambda: self.lease_id
        )
        agent = NodeAgent(
            node.name,
            self.runtime,
            self.store,
            self.mirrors,
            lease_id=lambda: self.lease_id,
            publisher=publisher,
            network=self.config.network_name,
            dns_servers=[gateway_of(self.pod_subnet)],
            firewall=self._firewall,
            volumes=self.volumes,
        )
        upkeep = VolumeUpkeep(
            node.name,
            node.storage_domain if node.shared_storage is not None else None,
            self.volumes,
            self.store,
            self.mirrors,
            lambda: self.lease_id,
        )
        service = JobService(self.store, self.mirrors, node_name=node.name)
        replacer = Replacer(self.store, self.mirrors, node_name=node.name)
        app = create_app(
            service=service,
            mirrors=self.mirrors,
            store=self.store,
            agent=agent,
            node=node,
            dns=self.dns_store,
            ingress_port=self.config.ingress_port,
        )
        # Peers that lost etcd ask this to tell a partition from an outage of etcd.
        app.add_api_route(
            "/v1/node/etcd-contact",
            lambda: {"node": node.name, "silentFor": keeper.silent_for},
            methods=["GET"],
            tags=["node"],
            summary="Seconds since this node's lease was last refreshed",
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
            mirror_tasks = [
                group.create_task(mirror.run())
                for mirror in [*self.mirrors.all(), dns_records, dns_aliases]
            ]
            keeper_task = group.create_task(keeper.run())
            await self.mirrors.wait_synced()
            agent_task = group.create_task(agent.run())
            if self._route_backend is not None:
                routes_task = group.create_task(
                    PeerRouter(node, self.mirrors.nodes, self._route_backend).run()
                )
            replacer_task = group.create_task(replacer.run())
            upkeep_task = group.create_task(upkeep.run())
            # Several nodes may share a host (as in the tests): each has its own HAProxy files.
            haproxy = Haproxy(self.run_dir / "haproxy", self.config.ingress_port)
            ingress_task = group.create_task(IngressController(self.mirrors, haproxy).run())
            dns_tasks = [
                group.create_task(publisher.run()),
                group.create_task(
                    serve_records(self._dns_server(), dns_records, self._dns_listeners())
                ),
            ]
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
            fenced = lost.done()
            stopping.cancel()
            lost.cancel()
            # The pods go first: when fencing, every second counts.
            agent_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent_task
            replacer_task.cancel()
            upkeep_task.cancel()
            if self._route_backend is not None:
                routes_task.cancel()
            ingress_task.cancel()
            for dns_task in dns_tasks:
                dns_task.cancel()
            if fenced:
                silent_for = keeper.silent_for
                log.error(
                    "FENCING: no lease refresh for %.1fs; stopping every pod here so no instance "
                    "runs twice, then rejoining as a new node once etcd answers",
                    silent_for,
                )
                # Not only the agent's pods: one it was still starting is not tracked yet.
                stopped = await self._remove_local_pods()
                # Peers re-place the instances, afresh: their local volumes go too.
                await self.volumes.remove_all()
            else:
                await agent.stop_all_pods()
            server.should_exit = True
            await server_task
            keeper_task.cancel()
            for mirror_task in mirror_tasks:
                mirror_task.cancel()
        if not fenced:
            return None
        return (
            f"node {node.name} fenced: no lease refresh for {silent_for:.1f}s, so it stopped "
            f"its {stopped} pod(s) and rejoined as a new node"
        )

    def _dns_listeners(self) -> list[Listener]:
        # The gateway address exists only while podman's bridge is up: bound freely,
        # the socket serves the pods whenever the bridge comes up (see dns/server.py).
        return [
            Listener("127.0.0.1", self.config.dns_port),
            Listener(gateway_of(self.pod_subnet), 53, freebind=True),
        ]

    def _dns_server(self) -> DnsServer:
        own = [listener.host for listener in self._dns_listeners()]
        return DnsServer(self.config.dns_domain, upstream_resolvers(Path("/etc/resolv.conf"), own))

    def _flannel_subnet(self) -> FlannelSubnet | None:
        """flannel's subnet for this host, if the site runs flannel."""
        try:
            text = self.config.flannel_env.read_text()
        except FileNotFoundError:
            return None
        flannel = parse_flannel_env(text)
        log.info(
            "flannel runs here: pod subnet %s, MTU %d; it routes, we don't",
            flannel.subnet,
            flannel.mtu,
        )
        return flannel

    async def _set_up_pod_network(self, address: str, flannel: FlannelSubnet | None) -> None:
        """The node's pod subnet (leased, or flannel's), its bridge, firewall and route backend."""
        config = self.config
        mtu: int | None
        if flannel is not None:
            self.pod_subnet, mtu = flannel.subnet, flannel.mtu
        else:
            try:
                self.pod_subnet = await self._subnets.lease(self.lease_id)
            except SubnetUnavailable as error:
                raise SystemExit(f"no pod subnet for {config.name}: {error}") from error
            backend: PeerRouteBackend
            if config.network_backend == "vxlan":
                backend = Vxlan(self.pod_subnet, address)
            else:
                backend = HostGateway()
            await backend.setup()
            self._route_backend, mtu = backend, backend.pod_mtu
        await self.runtime.ensure_network(config.network_name, self.pod_subnet, mtu)
        self._firewall = IptablesFirewall(config.name, self.pod_subnet, config.cluster_cidr)
        await self._firewall.start()
        # Only now: the chains' conntrack matches have loaded nf_conntrack.
        ensure_liberal_tcp_conntrack()
        log.info("pod network: subnet %s, bridge network %s", self.pod_subnet, config.network_name)

    async def _everyone_cut_off(self) -> bool:
        """Whether every peer, asked directly, has gone as long without etcd as a lease refresh.

        Then nobody can commit a re-placement, so this node's instances may
        keep running. A peer that does not answer may be on the other side of
        a partition, with etcd: then the answer is no.
        """
        own_name = self.config.name
        peers = [node for node in self.mirrors.node_list() if node.name != own_name]
        refresh_interval = self.config.lease_ttl / 3

        async def cut_off(client: httpx.AsyncClient, peer: Node) -> bool:
            try:
                reply = await client.get(f"{peer.api_url}/v1/node/etcd-contact")
                return bool(reply.json()["silentFor"] >= 1.5 * refresh_interval)
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        async with httpx.AsyncClient(timeout=_PEER_ASK_SECONDS) as client:
            answers = await asyncio.gather(*(cut_off(client, peer) for peer in peers))
        return all(answers)

    async def _wait_to_rejoin(self) -> bool:
        """After fencing, wait (with back-off) until etcd answers; False if told to stop first.

        The old lease is revoked once etcd answers, whatever its state, so
        peers see the old membership end before the new one begins.
        """
        delay = 1.0
        while not self._stopping.is_set():
            try:
                if await self.etcd.lease_time_left(self.lease_id) > 0:
                    await self.etcd.revoke_lease(self.lease_id)
            except StoreUnavailable as error:
                log.warning("fenced, waiting for etcd (next try in %.0fs): %s", delay, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, _REJOIN_RETRY_MAX_SECONDS)
                continue
            log.warning("etcd answers again: rejoining as a new node")
            return True
        return False

    async def _remove_local_pods(self) -> int:
        """Remove every pod this node's label marks as its own; returns how many there were."""
        pods = await self.runtime.list_pods({"ozy.node": self.config.name})
        for pod in pods:
            await self.runtime.remove_pod(pod.name)
        return len(pods)

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
            removed = await self._remove_local_pods()
            log.warning("previous lease expired: removed %d leftover pods", removed)
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
        with contextlib.suppress(OSError):  # not empty: some part did not stop cleanly
            self.run_dir.rmdir()
        try:
            if self._firewall is not None:
                await self._firewall.stop()
            if self._route_backend is not None:
                await self._route_backend.teardown()
        except (FirewallError, RouteError) as error:
            log.error("could not remove the node's rules or routes: %s", error)
        if self._added_blackhole:
            await ip_routes.remove_blackhole(self.config.cluster_cidr)
        await self.etcd.close()
