"""Keeps this node's routes to the other nodes' pod subnets, and its firewall's list of
the other hosts, equal to who is registered.

Every node publishes its pod subnet and host address in its node record
(under its lease). This service follows the node records and, through a
route backend (host-gw or vxlan, see ip_routes.py), adds routes to new
peers, moves them when a peer's address changes, and removes those of peers
that left or died: their record vanishes with their lease, and their subnet
falls back into the cluster range's blackhole. The firewall refuses pods the
control ports of every peer's address.

Records come from etcd, which any node (or anyone holding etcd's
credentials) writes: a record is checked (`checked_peer`) before its values
reach a root-owned `ip route` or iptables command, and ignored, with an
error logged, if its subnet is not a network inside the cluster range or its
address not an IPv4 host address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Protocol
from urllib.parse import urlsplit

from ozymandias.cluster.records import Node
from ozymandias.network.firewall import FirewallError
from ozymandias.network.ip_routes import PeerRouteBackend, RouteError
from ozymandias.store.mirror import Mirror

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


class PeerFirewall(Protocol):
    async def set_peers(self, peers: Mapping[IPv4Address, frozenset[int]]) -> None: ...


@dataclass(frozen=True)
class Peer:
    """A node record's values, checked."""

    name: str
    address: IPv4Address
    pod_subnet: IPv4Network | None  # None: an older node that publishes none
    api_ports: frozenset[int]  # its API's port, if its URL names one


def checked_peer(node: Node, cluster: IPv4Network) -> Peer | str:
    """The node record's values, or what is wrong with them (the record is then ignored)."""
    try:
        address = IPv4Address(node.address)
    except ValueError:
        return f"node {node.name}: address {node.address!r} is not an IPv4 address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return f"node {node.name}: address {node.address!r} is not a host's address"
    subnet = None
    if node.pod_subnet:
        try:
            subnet = IPv4Network(node.pod_subnet)
        except ValueError:  # host bits set, too, as in 10.213.1.5/24
            return f"node {node.name}: pod_subnet {node.pod_subnet!r} is not an IPv4 network"
        # The whole range would take every pod's traffic (and the blackhole's) to one node.
        if not subnet.subnet_of(cluster) or subnet.prefixlen == cluster.prefixlen:
            return (
                f"node {node.name}: pod_subnet {node.pod_subnet!r} is not a subnet "
                f"of the cluster range {cluster}"
            )
    return Peer(node.name, address, subnet, _api_ports(node.api_url))


def _api_ports(api_url: str) -> frozenset[int]:
    """The port `api_url` names, if it names one: a URL's default port (80) is the ingress's."""
    try:
        port = urlsplit(api_url).port
    except ValueError:
        return frozenset()
    return frozenset() if port is None else frozenset([port])


def checked_peers(
    own: Node, nodes: Iterable[Node], cluster_cidr: str
) -> tuple[list[Peer], list[str]]:
    """The other nodes whose records pass `checked_peer`, and what is wrong with the rest."""
    cluster = IPv4Network(cluster_cidr)
    peers, problems = [], []
    for node in nodes:
        if node.name == own.name:
            continue
        checked = checked_peer(node, cluster)
        if isinstance(checked, str):
            problems.append(checked)
        else:
            peers.append(checked)
    return peers, problems


def desired_peer_routes(own: Node, peers: Iterable[Peer]) -> dict[str, str]:
    """Pod subnet -> host address, for every peer with a subnet on another host.

    A peer with this node's own address runs on the same host (several
    daemons in one network namespace, as in tests): its bridge is already
    directly connected, so it needs no route.
    """
    return {
        str(peer.pod_subnet): str(peer.address)
        for peer in peers
        if peer.pod_subnet is not None
        and str(peer.pod_subnet) != own.pod_subnet
        and str(peer.address) != own.address
    }


def other_hosts(own: Node, peers: Iterable[Peer]) -> dict[IPv4Address, frozenset[int]]:
    """The peers' host addresses but this node's own, each with their API ports."""
    hosts: dict[IPv4Address, frozenset[int]] = {}
    for peer in peers:
        if str(peer.address) != own.address:
            hosts[peer.address] = hosts.get(peer.address, frozenset()) | peer.api_ports
    return hosts


def route_changes(
    desired: dict[str, str], current: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(routes to set: subnet -> address, subnets whose route goes)."""
    to_set = {subnet: via for subnet, via in desired.items() if current.get(subnet) != via}
    to_remove = sorted(subnet for subnet in current if subnet not in desired)
    return to_set, to_remove


class PeerRouter:
    """Follows the node records into the routes (`backend`; None: flannel routes) and the
    firewall's list of other hosts (`firewall`, if any)."""

    def __init__(
        self,
        own: Node,
        nodes: Mirror[Node],
        backend: PeerRouteBackend | None,
        *,
        cluster_cidr: str,
        firewall: PeerFirewall | None = None,
    ) -> None:
        self._own = own
        self._nodes = nodes
        self._backend = backend
        self._cluster = cluster_cidr
        self._firewall = firewall
        # Each bad record is logged once, not on every change of any record.
        self._reported: set[str] = set()

    async def run(self) -> None:
        """Follow the node records until cancelled."""
        await self._nodes.wait_synced()
        while True:
            revision = self._nodes.revision
            try:
                await self.sync()
            except (RouteError, FirewallError) as error:
                log.warning("peer routes: %s; retrying in %.0fs", error, _RETRY_SECONDS)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            await self._nodes.wait_for_change(revision)

    async def sync(self) -> None:
        peers, problems = checked_peers(self._own, self._nodes.items.values(), self._cluster)
        for problem in problems:
            if problem not in self._reported:
                log.error("ignoring a node record: %s", problem)
        self._reported = set(problems)
        if self._firewall is not None:
            await self._firewall.set_peers(other_hosts(self._own, peers))
        if self._backend is None:
            return
        desired = desired_peer_routes(self._own, peers)
        to_set, to_remove = route_changes(desired, await self._backend.current())
        for subnet in to_remove:
            await self._backend.remove_peer(subnet)
            log.info("removed the route to %s", subnet)
        for subnet, address in sorted(to_set.items()):
            await self._backend.set_peer(subnet, address)
            log.info("route to %s via %s", subnet, address)
