"""One term of a node's membership: its parts, built afresh each time the node joins
(`compose_term`), and started in order (`start_term`).

Split from node.py, which keeps the daemon's life: joining, serving, fencing,
stopping and leaving. A term's parts are built from the daemon's long-lived
ones (its store, runtime, pod network, membership), so both take the daemon.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ozymandias.agent.image_pulls import ImagePulls
from ozymandias.agent.node_agent import NodeAgent
from ozymandias.agent.secret_delivery import SecretDelivery
from ozymandias.agent.volumes import VolumeUpkeep
from ozymandias.allocation_history.sampler import AllocationSampler
from ozymandias.api.app import create_app
from ozymandias.api.auth import Guard
from ozymandias.api.peer import PeerContact
from ozymandias.api.server import ApiServer, api_server
from ozymandias.cluster.records import Node
from ozymandias.deployments.deployer import Deployer
from ozymandias.dns.publisher import DnsPublisher
from ozymandias.dns.server import DnsServer, Listener, serve_records, upstream_resolvers
from ozymandias.heap_trim import trim_heap_every
from ozymandias.ingress.controller import IngressController
from ozymandias.ingress.haproxy import Haproxy
from ozymandias.jobs.replacement import Replacer
from ozymandias.jobs.service import JobService
from ozymandias.jobs.system_jobs import SystemJobs
from ozymandias.kube_api.app import create_kube_app
from ozymandias.kube_api.server import kube_listen, kube_server
from ozymandias.load_report import LoadReporter
from ozymandias.node_config import NodeConfig
from ozymandias.registries.access import RegistryLogins
from ozymandias.registries.service import RegistryService
from ozymandias.secrets.service import SecretService
from ozymandias.store.dns_store import RecordChanges
from ozymandias.store.mirror import Mirror
from ozymandias.store.watch_sources import events_mirror
from ozymandias.watch.watches import Watches

if TYPE_CHECKING:
    from ozymandias.node import NodeDaemon

# The load average counts runnable tasks over the whole host: per core, it reads alike
# on a 2-core and a 64-core node. All of the host's cores, whatever `--cpus` offers.
CORES = os.cpu_count() or 1


@dataclass
class Term:
    """The parts of one term of membership, built afresh each time the node joins."""

    node: Node
    mirrors: list[Mirror[Any]]
    dns_records: RecordChanges
    publisher: DnsPublisher
    agent: NodeAgent
    upkeep: VolumeUpkeep
    replacer: Replacer
    system_jobs: SystemJobs
    deployer: Deployer
    ingress: IngressController
    load: LoadReporter
    server: ApiServer
    watches: Watches
    kube_server: ApiServer | None  # the Kubernetes API (--kube-port; None: 0)


@dataclass
class TermTasks:
    """A term's running parts, in the groups they stop in."""

    agent: asyncio.Task[Any]
    # replacer, system jobs, deployer, upkeep, peer routes, ingress, load report, DNS
    services: list[asyncio.Task[Any]]
    server: asyncio.Task[Any]
    kube_server: asyncio.Task[Any] | None
    last: list[asyncio.Task[Any]]  # the lease keeper, then the mirrors


def compose_term(daemon: NodeDaemon, node: Node) -> Term:
    """Build the parts of one term of membership, and begin the lease's term."""
    config = daemon.config
    # Fresh mirrors for each membership: after a fence, nothing of the old
    # view may survive into the new one.
    daemon.mirrors = daemon.store.mirrors()
    peers = PeerContact(node.name, daemon.mirrors.node_list, config.lease_ttl / 3, daemon.peer_link)
    daemon.membership.begin_term(everyone_cut_off=peers.everyone_cut_off)
    dns_records = daemon.dns_store.record_changes()
    dns_aliases = daemon.dns_store.aliases_mirror()
    lease_id = daemon.membership.current
    publisher = DnsPublisher(daemon.dns_store, dns_aliases, node.name, node.address, lease_id)
    agent = NodeAgent(
        node.name,
        daemon.runtime,
        daemon.store,
        daemon.mirrors,
        lease_id=lease_id,
        publisher=publisher,
        network=config.network_name,
        dns_servers=[daemon.pod_network.gateway],
        dns_domain=config.dns_domain,
        firewall=daemon.pod_network.firewall,
        volumes=daemon.volumes,
        secrets=SecretDelivery(node.name, daemon.mirrors, daemon.key_file, daemon.secrets_dir),
        pulls=ImagePulls(
            daemon.runtime, RegistryLogins(node.name, daemon.mirrors, daemon.key_file)
        ),
    )
    domain = node.storage_domain if node.shared_storage is not None else None
    upkeep = VolumeUpkeep(node.name, domain, daemon.volumes, daemon.store, daemon.mirrors, lease_id)
    service = JobService(
        daemon.store, daemon.mirrors, node_name=node.name, preemption=config.preemption
    )
    replacer = Replacer(daemon.store, daemon.mirrors, node_name=node.name)
    system_jobs = SystemJobs(
        daemon.store, daemon.mirrors, node_name=node.name, preemption=config.preemption
    )
    deployer = Deployer(
        daemon.store,
        daemon.mirrors,
        service,
        node_name=node.name,
        auto_rebalance=config.auto_rebalance,
    )
    # Several nodes may share a host (as in the tests): each has its own HAProxy files.
    haproxy = Haproxy(
        daemon.run_dir / "haproxy",
        config.ingress_port,
        trusted_proxies=config.ingress_trusted_proxies,
    )
    ingress = IngressController(daemon.mirrors, haproxy, config.ingress_tcp_ports)
    watches = Watches(daemon.mirrors, lambda: events_mirror(daemon.store.etcd))
    guard = Guard(daemon.mirrors.tokens)
    guard.set_peer_secret(daemon.peer_secret)
    secret_service = SecretService(
        daemon.secret_store,
        daemon.store,
        daemon.mirrors,
        service,
        daemon.key_file,
        node_name=node.name,
    )
    app = create_app(
        service=service,
        mirrors=daemon.mirrors,
        store=daemon.store,
        agent=agent,
        node=node,
        dns=daemon.dns_store,
        ingress=ingress,
        limits=config.api_limits,
        spec_limits=config.spec_limits,
        acl_store=daemon.acl_store,
        guard=guard,
        etcd_contact=daemon.membership,
        peers=daemon.peer_link,
        secret_service=secret_service,
        registry_service=RegistryService(
            daemon.registry_store,
            daemon.secret_store,
            daemon.mirrors,
            secret_service.keyring,
            node_name=node.name,
        ),
        watches=watches,
        allocation_history=daemon.allocation_history,
    )
    server = api_server(app, config.api_host, config.api_port, config.api_limits, config.api_tls)
    kube = kube_listen(config)
    kube_api = (
        kube_server(
            create_kube_app(app.state.services, guard, config.api_limits),
            kube,
            config.api_limits,
        )
        if kube is not None
        else None
    )
    mirrors = [*daemon.mirrors.all(), dns_records, dns_aliases]
    load = LoadReporter(
        daemon.store, node.name, lease_id, config.loadavg_file, CORES, reported=node.load
    )
    return Term(
        node,
        mirrors,
        dns_records,
        publisher,
        agent,
        upkeep,
        replacer,
        system_jobs,
        deployer,
        ingress,
        load,
        server,
        watches,
        kube_api,
    )


async def start_term(daemon: NodeDaemon, term: Term, group: asyncio.TaskGroup) -> TermTasks:
    """Start the mirrors and the lease keeper, then, once the mirrors are synced, the rest."""
    mirror_tasks = [group.create_task(mirror.run()) for mirror in term.mirrors]
    keeper_task = group.create_task(daemon.membership.keep())
    await daemon.mirrors.wait_synced()
    agent_task = group.create_task(term.agent.run())
    router = daemon.pod_network.peer_router(term.node, daemon.mirrors.nodes)
    routes_tasks = [group.create_task(router.run())] if router is not None else []
    replacer_task = group.create_task(term.replacer.run())
    system_task = group.create_task(term.system_jobs.run())
    deployer_task = group.create_task(term.deployer.run())
    upkeep_task = group.create_task(term.upkeep.run())
    ingress_task = group.create_task(term.ingress.run())
    load_task = group.create_task(term.load.run())
    trim_task = group.create_task(trim_heap_every())
    sampler_task = group.create_task(
        AllocationSampler(daemon.mirrors, daemon.allocation_history).run()
    )
    dns_tasks = [
        group.create_task(term.publisher.run()),
        group.create_task(
            serve_records(
                dns_server(daemon.config, daemon.pod_network.gateway),
                term.dns_records,
                dns_listeners(daemon.config, daemon.pod_network.gateway),
            )
        ),
    ]
    server_task = group.create_task(term.server.serve())
    kube_task = (
        group.create_task(term.kube_server.serve()) if term.kube_server is not None else None
    )
    return TermTasks(
        agent=agent_task,
        services=[
            replacer_task,
            system_task,
            deployer_task,
            upkeep_task,
            *routes_tasks,
            ingress_task,
            load_task,
            trim_task,
            sampler_task,
            *dns_tasks,
        ],
        server=server_task,
        kube_server=kube_task,
        last=[keeper_task, *mirror_tasks],
    )


def dns_listeners(config: NodeConfig, gateway: str) -> list[Listener]:
    # The gateway address exists only while podman's bridge is up: bound freely,
    # the socket serves the pods whenever the bridge comes up (see dns/server.py).
    return [Listener("127.0.0.1", config.dns_port), Listener(gateway, 53, freebind=True)]


def dns_server(config: NodeConfig, gateway: str) -> DnsServer:
    own = [listener.host for listener in dns_listeners(config, gateway)]
    return DnsServer(config.dns_domain, upstream_resolvers(Path("/etc/resolv.conf"), own))
