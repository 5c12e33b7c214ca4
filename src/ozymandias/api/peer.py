"""Node to node: how long a node has been without etcd, asked by peers that lost it.

A node that cannot refresh its lease asks every peer, before it fences,
whether they reach etcd. If none does, nobody can commit a re-placement, so
it keeps its instances running (see `LeaseKeeper` and "Failure handling" in
the README). This module holds both sides: the route each node serves and
the question each node asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Protocol

import httpx
from fastapi import APIRouter

from ozymandias.api.auth import requires_peer
from ozymandias.api.peer_link import PeerLink
from ozymandias.cluster.records import Node

ETCD_CONTACT_PATH = "/v1/node/etcd-contact"

# How long a node without etcd waits for a peer to say whether it reaches etcd.
PEER_ASK_SECONDS = 1.0


class EtcdContact(Protocol):
    @property
    def silent_for(self) -> float:
        """Seconds since this node's lease was last refreshed."""
        ...


def etcd_contact_router(node_name: str, contact: EtcdContact) -> APIRouter:
    """The routes peers call on this node."""
    router = APIRouter()

    def etcd_contact() -> dict[str, object]:
        return {"node": node_name, "silentFor": contact.silent_for}

    router.add_api_route(
        ETCD_CONTACT_PATH,
        etcd_contact,
        methods=["GET"],
        tags=["node"],
        summary="Seconds since this node's lease was last refreshed",
        # Only the cluster's nodes: no user token, not even an admin's, opens it.
        dependencies=[requires_peer()],
        response_model=None,
    )
    return router


class PeerContact:
    """Asks the peers of node `own_name` whether they, too, have gone without etcd."""

    def __init__(
        self,
        own_name: str,
        nodes: Callable[[], Iterable[Node]],
        refresh_interval: float,
        link: PeerLink,
    ) -> None:
        """`nodes`: the cluster's nodes now; `refresh_interval`: how often leases are refreshed;
        `link`: how to call them (TLS, the peers' credential)."""
        self._link = link
        self._own_name = own_name
        self._nodes = nodes
        self._refresh_interval = refresh_interval

    async def everyone_cut_off(self) -> bool:
        """Whether every peer, asked directly, has gone as long without etcd as a lease refresh.

        Then nobody can commit a re-placement, so this node's instances may
        keep running. A peer that does not answer may be on the other side of
        a partition, with etcd: then the answer is no.
        """
        peers = [node for node in self._nodes() if node.name != self._own_name]

        async def cut_off(client: httpx.AsyncClient, peer: Node) -> bool:
            try:
                reply = await client.get(f"{peer.api_url}{ETCD_CONTACT_PATH}")
                return bool(reply.json()["silentFor"] >= 1.5 * self._refresh_interval)
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        link = self._link
        async with link.client(timeout=PEER_ASK_SECONDS, headers=link.credential_headers) as client:
            answers = await asyncio.gather(*(cut_off(client, peer) for peer in peers))
        return all(answers)
