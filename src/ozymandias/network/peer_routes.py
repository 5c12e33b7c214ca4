"""Keeps this node's routes to the other nodes' pod subnets equal to who is registered.

Every node publishes its pod subnet and host address in its node record
(under its lease). This service follows the node records and, through a
route backend (host-gw or vxlan, see routes.py), adds routes to new peers,
moves them when a peer's address changes, and removes those of peers that
left or died: their record vanishes with their lease, and their subnet falls
back into the cluster range's blackhole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from ozymandias.cluster.records import Node
from ozymandias.network.ip_routes import PeerRouteBackend, RouteError
from ozymandias.store.mirror import Mirror

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


def desired_peer_routes(own: Node, nodes: Iterable[Node]) -> dict[str, str]:
    """Pod subnet -> host address, for every other node with a subnet on another host.

    A peer with this node's own address runs on the same host (several
    daemons in one network namespace, as in tests): its bridge is already
    directly connected, so it needs no route.
    """
    return {
        node.pod_subnet: node.address
        for node in nodes
        if node.name != own.name
        and node.pod_subnet
        and node.pod_subnet != own.pod_subnet
        and node.address != own.address
    }


def route_changes(
    desired: dict[str, str], current: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(routes to set: subnet -> address, subnets whose route goes)."""
    to_set = {subnet: via for subnet, via in desired.items() if current.get(subnet) != via}
    to_remove = sorted(subnet for subnet in current if subnet not in desired)
    return to_set, to_remove


class PeerRouter:
    def __init__(self, own: Node, nodes: Mirror[Node], backend: PeerRouteBackend) -> None:
        self._own = own
        self._nodes = nodes
        self._backend = backend

    async def run(self) -> None:
        """Follow the node records until cancelled."""
        await self._nodes.wait_synced()
        while True:
            revision = self._nodes.revision
            try:
                await self.sync()
            except RouteError as error:
                log.warning("peer routes: %s; retrying in %.0fs", error, _RETRY_SECONDS)
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            await self._nodes.wait_for_change(revision)

    async def sync(self) -> None:
        desired = desired_peer_routes(self._own, self._nodes.items.values())
        to_set, to_remove = route_changes(desired, await self._backend.current())
        for subnet in to_remove:
            await self._backend.remove_peer(subnet)
            log.info("removed the route to %s", subnet)
        for subnet, address in sorted(to_set.items()):
            await self._backend.set_peer(subnet, address)
            log.info("route to %s via %s", subnet, address)
