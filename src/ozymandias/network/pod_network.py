"""A node's pod network, set up and torn down: subnet, bridge, firewall, routes to peers.

Once per daemon, `prepare_host` reads flannel's subnet (if the site runs
flannel), blackholes the cluster range and lets the bridge's traffic through
netfilter. Each time the node joins (under a new lease), `start` takes the
node's pod subnet (leased from etcd, or flannel's), sets up the backend that
routes to peers' pods (host-gw or vxlan; none under flannel), the podman
bridge network and the pod firewall. See "Pod network" in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Protocol

from ozymandias.cluster.records import Node
from ozymandias.network import ip_routes
from ozymandias.network.firewall import (
    FirewallError,
    IptablesFirewall,
    ensure_bridge_netfilter,
    ensure_liberal_tcp_conntrack,
)
from ozymandias.network.firewall_rules import (
    DEFAULT_CONTROL_PORTS,
    DEFAULT_HOST_PORTS_OPEN_TO_PODS,
    PortOrRange,
)
from ozymandias.network.ip_routes import HostGateway, PeerRouteBackend, RouteError, Vxlan
from ozymandias.network.peer_routes import PeerRouter
from ozymandias.network.subnet_lease import SubnetLeaser, SubnetUnavailable
from ozymandias.network.subnets import (
    FlannelSubnet,
    gateway_of,
    parse_flannel_env,
    used_on_host,
)
from ozymandias.runtime.models import BridgeNetwork
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.mirror import Mirror

log = logging.getLogger(__name__)

# How pods reach other nodes' pods (--network-backend).
NETWORK_BACKENDS = ("host-gw", "vxlan")


class BridgeNetworks(Protocol):
    """The container runtime's bridge networks (podman's, in the daemon)."""

    async def ensure_network(self, name: str, subnet: str, mtu: int | None = None) -> None: ...

    async def remove_network(self, name: str) -> None: ...

    async def networks(self) -> list[BridgeNetwork]: ...


class PodNetwork:
    """This node's share of the pod network; `subnet` is "" until `start`."""

    def __init__(
        self,
        runtime: BridgeNetworks,
        store: ClusterStore,
        *,
        node_name: str,
        network_name: str,
        cluster_cidr: str,
        backend: str,
        flannel_env: Path,
        subnet_file: Path,
        requested_subnet: str | None = None,
        host_ports_open_to_pods: Iterable[PortOrRange] = DEFAULT_HOST_PORTS_OPEN_TO_PODS,
        control_ports: Iterable[int] = DEFAULT_CONTROL_PORTS,
        control_hosts: Iterable[str] = (),
    ) -> None:
        """`subnet_file` remembers the leased subnet; `requested_subnet`: --pod-subnet.

        What pods may reach of the hosts (see `firewall_rules.py`):
        `host_ports_open_to_pods`, this host's TCP ports (and (first, last)
        ranges) open to them besides DNS: the ingress's; `control_ports`, TCP
        ports refused to them on every host: the API's and etcd's;
        `control_hosts`, the hosts (addresses or names) that serve those
        besides the nodes: etcd's.
        """
        self.node_name = node_name
        self.network_name = network_name
        self.cluster_cidr = cluster_cidr  # flannel's range instead, once prepared, if it has one
        self.subnet = ""
        self.firewall: IptablesFirewall | None = None
        self.route_backend: PeerRouteBackend | None = None
        self._runtime = runtime
        self._backend = backend
        self._flannel_env = flannel_env
        self._flannel: FlannelSubnet | None = None
        self._added_blackhole = False
        self._open_to_pods = tuple(host_ports_open_to_pods)
        self._control_ports = tuple(control_ports)
        self._control_hosts = tuple(control_hosts)
        self._subnets = SubnetLeaser(
            store, node_name, cluster_cidr, subnet_file, requested=requested_subnet
        )

    @property
    def gateway(self) -> str:
        """The bridge's address on the pod subnet: the pods' gateway and DNS server."""
        return gateway_of(self.subnet)

    async def prepare_host(self) -> None:
        """Once per daemon, before the first `start`: flannel's range, blackhole, netfilter."""
        self._flannel = self._flannel_subnet()
        if self._flannel is not None and self._flannel.network:
            self.cluster_cidr = self._flannel.network
        self._added_blackhole = await ip_routes.ensure_blackhole(self.cluster_cidr)
        ensure_bridge_netfilter()

    async def start(self, lease_id: int, address: str) -> None:
        """The node's pod subnet (leased, or flannel's), its bridge, firewall and route backend.

        `address` is the node's own, which vxlan sends from. Exits the daemon
        if no subnet is to be had.
        """
        flannel = self._flannel
        mtu: int | None
        if flannel is not None:
            self.subnet, mtu = flannel.subnet, flannel.mtu
        else:
            used = used_on_host(
                await self._runtime.networks(),
                await ip_routes.interface_networks(),
                self.network_name,
            )
            try:
                self.subnet = await self._subnets.lease(lease_id, used)
            except SubnetUnavailable as error:
                raise SystemExit(f"no pod subnet for {self.node_name}: {error}") from error
            backend: PeerRouteBackend = (
                Vxlan(self.subnet, address) if self._backend == "vxlan" else HostGateway()
            )
            await backend.setup()
            self.route_backend, mtu = backend, backend.pod_mtu
        await self._runtime.ensure_network(self.network_name, self.subnet, mtu)
        self.firewall = IptablesFirewall(
            self.node_name,
            self.subnet,
            self.cluster_cidr,
            host_ports_open_to_pods=self._open_to_pods,
            control_ports=self._control_ports,
            control_hosts=await _ipv4_addresses(self._control_hosts),
        )
        await self.firewall.start()
        # Only now: the chains' conntrack matches have loaded nf_conntrack.
        ensure_liberal_tcp_conntrack()
        log.info("pod network: subnet %s, bridge network %s", self.subnet, self.network_name)

    def peer_router(self, own: Node, nodes: Mirror[Node]) -> PeerRouter | None:
        """What keeps the routes to peers' subnets (unless flannel routes) and the
        firewall's list of peers; None before `start`."""
        if self.route_backend is None and self.firewall is None:
            return None
        return PeerRouter(
            own, nodes, self.route_backend, cluster_cidr=self.cluster_cidr, firewall=self.firewall
        )

    async def remove_bridge(self) -> None:
        """Remove the podman network, if the runtime still can (errors are ignored)."""
        with contextlib.suppress(Exception):
            await self._runtime.remove_network(self.network_name)

    async def stop(self) -> None:
        """Remove the node's firewall rules, peer routes and (if it added it) the blackhole."""
        try:
            if self.firewall is not None:
                await self.firewall.stop()
            if self.route_backend is not None:
                await self.route_backend.teardown()
        except (FirewallError, RouteError) as error:
            log.error("could not remove the node's rules or routes: %s", error)
        if self._added_blackhole:
            await ip_routes.remove_blackhole(self.cluster_cidr)

    def _flannel_subnet(self) -> FlannelSubnet | None:
        """flannel's subnet for this host, if the site runs flannel."""
        try:
            text = self._flannel_env.read_text()
        except FileNotFoundError:
            return None
        flannel = parse_flannel_env(text)
        log.info(
            "flannel runs here: pod subnet %s, MTU %d; it routes, we don't",
            flannel.subnet,
            flannel.mtu,
        )
        return flannel


async def _ipv4_addresses(hosts: Iterable[str]) -> list[IPv4Address]:
    """Every IPv4 address of `hosts` (addresses or names); a name that does not resolve
    is left out, with an error: the node reaches etcd, so this is unlikely."""
    loop = asyncio.get_running_loop()
    addresses: list[IPv4Address] = []
    for host in hosts:
        try:
            found = await loop.getaddrinfo(host, None, family=socket.AF_INET)
        except OSError as error:
            log.error("pods are not refused %s's control ports: %s", host, error)
            continue
        addresses += [IPv4Address(info[4][0]) for info in found]
    return sorted(set(addresses))
