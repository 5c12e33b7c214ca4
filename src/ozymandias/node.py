"""`ozy node run`: one node daemon, composed of the services in this package.

A node registers itself in etcd under a lease, follows the cluster state,
runs its share of the pods, and serves the HTTP API through which any node
accepts jobs. Every node runs the same daemon; there is no master.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from pathlib import Path
from typing import Any

from ozymandias.agent.volumes import PodVolumes
from ozymandias.allocation_history.history import AllocationHistory
from ozymandias.api.peer_link import PeerLink
from ozymandias.cluster.records import Event, Node
from ozymandias.daemon_lock import DirectoryInUse, DirectoryLock
from ozymandias.heap_trim import trim_heap
from ozymandias.kube_api.server import kube_listen, loopback_note
from ozymandias.load_report import read_load
from ozymandias.metrics.families import registered
from ozymandias.metrics.node import FENCINGS
from ozymandias.metrics.node_state import NodeCollector
from ozymandias.network.pod_network import PodNetwork
from ozymandias.node_config import (
    NodeConfig,
    address_towards,
    api_warnings,
    default_capacity,
    shared_storage_of,
    this_host_software,
)
from ozymandias.node_term import CORES, Term, TermTasks, compose_term, start_term
from ozymandias.runtime.podman import PodmanRuntime
from ozymandias.secrets.keyring import KeyFile, KeyFileError
from ozymandias.stall_hook import install_stall_hook
from ozymandias.store.acl_store import AclStore
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.etcd import Etcd, EtcdAccessDenied, StoreUnavailable
from ozymandias.store.membership import Membership
from ozymandias.store.registry_store import RegistryStore
from ozymandias.store.secret_store import SecretStore
from ozymandias.volumes.local_disk import LocalDisks
from ozymandias.volumes.shared_dirs import SharedDirs

log = logging.getLogger(__name__)

SECRETS_ROOT = Path("/dev/shm/ozymandias")

# How long a starting node waits for etcd before giving up with a clear error.
ETCD_WAIT_SECONDS = 60


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


class NodeDaemon:
    """One node, composed of its parts, each started in turn.

    For the daemon's life: the podman runtime and the host's share of the
    pod network. For each term of membership (until stopped, or until the
    lease is lost: then the node fences and rejoins): the lease
    (`Membership`), the node's pod subnet, bridge and firewall
    (`PodNetwork`), the node record, then `_serve`'s parts: mirrors, lease
    keeper, agent, peer routes, replacer, system jobs, deployer, volume upkeep, ingress,
    DNS and the API. Those stop pods first (when fencing, every second counts) and
    the API, lease keeper and mirrors last. `_leave` gives back the lease
    first, then the bridge, the podman service, firewall, routes, blackhole.
    """

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        etcd = Etcd(config.etcd, security=config.etcd_security)
        self.store = ClusterStore(etcd)
        self.acl_store = AclStore(etcd)
        self.secret_store = SecretStore(etcd)
        self.registry_store = RegistryStore(etcd)
        # Read again whenever it changes (see secrets/keyring.py); None: no secrets here.
        self.key_file = KeyFile(config.secrets_key_file) if config.secrets_key_file else None
        # Secret files live in memory only: /dev/shm is a tmpfs on every Linux host.
        self.secrets_dir = SECRETS_ROOT / config.name
        self.peer_secret = ""  # read from etcd before the first term (see `run`)
        self.peer_link = PeerLink(config.peer_tls)
        self.dns_store = DnsStore(etcd, config.dns_domain)
        self.mirrors = self.store.mirrors()
        # The dashboard's chart of each node; kept across terms (it holds only numbers).
        self.allocation_history = AllocationHistory()
        # Sockets and files that live as long as the daemon (podman's API, HAProxy's).
        self.run_dir = Path("/run/ozymandias") / config.name
        self.runtime = PodmanRuntime(
            self.run_dir / "podman.sock",
            env=config.podman_env or None,
            home=self.run_dir
            / "podman-home",  # where registries' CAs go (runtime/podman_images.py)
        )
        lease_file = config.node_dir / "lease.json"
        self.membership = Membership(
            self.store, config.name, config.lease_ttl, lease_file, fence_after=config.fence_after
        )
        self.pod_network = PodNetwork(
            self.runtime,
            self.store,
            node_name=config.name,
            network_name=config.network_name,
            cluster_cidr=config.cluster_cidr,
            backend=config.network_backend,
            flannel_env=config.flannel_env,
            subnet_file=config.node_dir / "pod-subnet",
            requested_subnet=config.pod_subnet,
            # Pods reach of the hosts only DNS and the ingress, never the control plane.
            host_ports_open_to_pods=(config.ingress_port, config.ingress_tcp_ports),
            control_ports=config.control_ports,
            control_hosts=config.etcd_hosts,
        )
        self.volumes = PodVolumes(
            LocalDisks(config.node_dir / "local-volumes"),
            SharedDirs(config.shared_storage) if config.shared_storage is not None else None,
        )
        self._stopping = asyncio.Event()

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Join the cluster, serve until SIGTERM/SIGINT (or `stop()`), then leave cleanly."""
        config = self.config
        loop = asyncio.get_running_loop()
        # Before anything is touched: a second daemon on the same directories
        # would kill the first one's podman service and adopt its pods.
        locks = _lock_directories(config.name, [config.node_dir, self.run_dir])
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        install_stall_hook(loop)
        try:
            if self.key_file is not None:
                try:
                    self.key_file.keyring()  # a bad key file is an error now, not at a pod's start
                except KeyFileError as error:
                    raise SystemExit(str(error)) from None
            await self._wait_for_etcd()
            # Kept for the daemon's life: a node that has lost etcd still shows it to peers.
            self.peer_secret = (await self.acl_store.peer_credential()).secret
            self.peer_link.secret = self.peer_secret
            capacity = default_capacity(config)
            shared_storage = shared_storage_of(config)
            address = config.address or address_towards(config.etcd)
            api_host = address if config.api_host == "0.0.0.0" else config.api_host
            api_url = f"{config.api_scheme}://{api_host}:{config.api_port}"
            for warning in api_warnings(config, api_host):
                log.warning("%s", warning)
            await self.runtime.start()
            await self.pod_network.prepare_host()
            while True:
                await self.membership.take(self._remove_local_pods)
                await self.pod_network.start(self.membership.lease_id, address)
                node = Node(
                    name=config.name,
                    address=address,
                    api_url=api_url,
                    labels=config.labels,
                    capacity=capacity,
                    started_at=time.time(),
                    pod_subnet=self.pod_network.subnet,
                    shared_storage=shared_storage,
                    load=read_load(config.loadavg_file, CORES) or 0.0,
                    load_threshold=config.load_threshold,
                    software=this_host_software(),
                )
                if not await self.store.register_node(node, self.membership.lease_id):
                    raise SystemExit(
                        f"a live node named {config.name!r} is already registered in etcd"
                    )
                fenced = await self._serve(node, ready)
                if fenced is None or not await self.membership.wait_to_rejoin(self._stopping):
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
        term = compose_term(self, node)
        mirrors, membership = self.mirrors, self.membership
        collector = NodeCollector(
            record=lambda: mirrors.node(node.name),
            allocation=lambda: mirrors.allocation(node.name),
            instances=term.agent.pod_states,
            lease_age=lambda: membership.silent_for,
        )
        with registered(collector):
            async with asyncio.TaskGroup() as group:
                tasks = await start_term(self, term, group)
                await self._announce(term, tasks, ready)
                lost = await self._until_stopped_or_lost(tasks)
                fenced = await self._stop(term, tasks, lost)
        return fenced

    async def _announce(self, term: Term, tasks: TermTasks, ready: asyncio.Event | None) -> None:
        """Once the API listens: record that the node joined, log it, and set `ready`."""
        node = term.node
        while not term.server.started:
            if tasks.server.done():
                raise SystemExit(f"the API could not listen on {node.api_url}")
            await asyncio.sleep(0.05)
        await self._announce_kube(term, tasks)
        await self.store.record_event(
            Event(
                time=time.time(),
                kind="node-joined",
                message=f"node {node.name} joined",
                node=node.name,
            )
        )
        log.info("node %s is up: API on %s, etcd %s", node.name, node.api_url, self.config.etcd)
        trim_heap()  # what the first sync read and dropped, glibc keeps unless asked
        if ready is not None:
            ready.set()

    async def _announce_kube(self, term: Term, tasks: TermTasks) -> None:
        """Wait for the Kubernetes API to listen (exit if it cannot), and say where it does."""
        config = self.config
        kube = kube_listen(config)
        if term.kube_server is None or tasks.kube_server is None or kube is None:
            return
        while not term.kube_server.started:
            if tasks.kube_server.done():
                raise SystemExit(
                    f"the Kubernetes API could not listen on {kube.url} "
                    "(--kube-port N picks another port, --kube-port 0 serves none)"
                )
            await asyncio.sleep(0.05)
        note = loopback_note(config.api_host, kube)
        if note is not None:
            log.warning("%s", note)
        log.info("Kubernetes API on %s (`ozy kubeconfig` writes kubectl's config)", kube.url)

    async def _until_stopped_or_lost(self, tasks: TermTasks) -> bool:
        """Wait until told to stop, the lease is lost or the agent ends; True if it is lost."""
        stopping = asyncio.create_task(self._stopping.wait())
        lost = asyncio.create_task(self.membership.lost.wait())
        waits: list[asyncio.Task[Any]] = [stopping, lost, tasks.agent]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        fenced = lost.done()
        stopping.cancel()
        lost.cancel()
        return fenced

    async def _stop(self, term: Term, tasks: TermTasks, lost: bool) -> str | None:
        """Stop the term's parts, fencing if the lease is `lost`: then it says what it did."""
        # The pods go first: when fencing, every second counts.
        tasks.agent.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tasks.agent
        for task in tasks.services:
            task.cancel()
        fenced: str | None = None
        if lost:
            fenced = await self._fence(term.node)
        else:
            await term.agent.stop_all_pods(keep_local_volumes=self.config.keep_local_volumes)
        # Open watch streams would hold the server's shutdown for as long as their clients read.
        await term.watches.close()
        if term.kube_server is not None and tasks.kube_server is not None:
            term.kube_server.should_exit = True
            await tasks.kube_server
        term.server.should_exit = True
        await tasks.server
        for task in tasks.last:
            task.cancel()
        return fenced

    async def _fence(self, node: Node) -> str:
        """Stop every pod here, for peers may run its instances already; says what it did."""
        silent_for = self.membership.silent_for
        FENCINGS.inc()
        log.error(
            "FENCING: no lease refresh for %.1fs; stopping every pod here so no instance "
            "runs twice, then rejoining as a new node once etcd answers",
            silent_for,
        )
        # Not only the agent's pods: one it was still starting is not tracked yet.
        stopped = await self._remove_local_pods()
        # Peers re-place the instances, afresh: their local volumes go too.
        await self.volumes.remove_all()
        log.warning("fenced: stopped %d pod(s)", stopped)
        return (
            f"node {node.name} fenced: no lease refresh for {silent_for:.1f}s, so it stopped "
            f"its {stopped} pod(s) and rejoined as a new node"
        )

    async def _remove_local_pods(self) -> int:
        """Remove every pod this node's label marks as its own; returns how many there were."""
        pods = await self.runtime.list_pods({"ozy.node": self.config.name})
        for pod in pods:
            await self.runtime.remove_pod(pod.name)
        return len(pods)

    async def _wait_for_etcd(self) -> None:
        deadline = time.monotonic() + ETCD_WAIT_SECONDS
        waited = False
        while True:
            try:
                await self.store.ping()
                return
            except EtcdAccessDenied as error:
                raise SystemExit(f"etcd at {self.config.etcd}: {error}") from error
            except StoreUnavailable as error:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"etcd at {self.config.etcd} did not answer: {error}"
                    ) from error
                # Said once; each further second of waiting is no news.
                level = logging.DEBUG if waited else logging.INFO
                log.log(level, "waiting for etcd at %s ...", self.config.etcd)
                waited = True
                await asyncio.sleep(1)

    async def _leave(self) -> None:
        """Give back everything the node holds, in this order: the lease; the podman bridge
        (podman's API is still needed for it); the podman service and the run dir; the
        firewall and routes (after the bridge, whose pods they served); the blackhole."""
        await self.membership.leave()
        await self.pod_network.remove_bridge()
        await self.runtime.close()
        with contextlib.suppress(OSError):  # not empty: some part did not stop cleanly
            self.run_dir.rmdir()
        await self.pod_network.stop()
        await self.store.close()
