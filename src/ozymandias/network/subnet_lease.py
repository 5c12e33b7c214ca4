"""A node's pod subnet, leased from etcd: one /24 of the cluster range per live node.

The lease is a key per subnet, written only if absent (compare-and-swap) and
under the node's lease: two nodes registering at once never get the same
subnet, a node keeps its subnet while its lease lives (a restarted daemon
finds it again), and the subnet is free once the node leaves or dies. The
last subnet is remembered in the node's data dir, so a node that comes back
after its lease expired asks for the same one first.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from pathlib import Path

from ozymandias.network.subnets import choose_subnet, conflict
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

log = logging.getLogger(__name__)

# Each lost race means a peer took a subnet meanwhile: there are finitely many peers.
_ATTEMPTS = 32


class SubnetUnavailable(RuntimeError):
    pass


class SubnetLeaser:
    def __init__(
        self,
        store: ClusterStore,
        node_name: str,
        cluster_cidr: str,
        state_file: Path,
        requested: str | None = None,
    ) -> None:
        """`requested`: the subnet the operator gave (--pod-subnet), still claimed in etcd."""
        self._store = store
        self._node = node_name
        self._cluster = cluster_cidr
        self._state_file = state_file
        self._requested = requested

    async def lease(self, lease_id: int, used_on_host: Mapping[str, str]) -> str:
        """This node's subnet, held under `lease_id`: the one it holds already, or a new one.

        `used_on_host` (network -> what uses it, see `subnets.used_on_host`) is
        avoided: podman would refuse a bridge network there.
        """

        async def attempt(number: int) -> str | Lost:
            holders = await self._store.subnet_holders()
            held = [cidr for cidr, holder in holders.items() if holder == (self._node, lease_id)]
            if held and self._requested in (None, *held):
                return self._requested or held[0]
            if self._requested is not None:
                holder = holders.get(self._requested)
                if holder is not None:
                    raise SubnetUnavailable(
                        f"pod subnet {self._requested} is held by node {holder[0]}"
                    )
                on_host = conflict(self._requested, used_on_host)
                if on_host is not None:
                    raise SubnetUnavailable(
                        f"pod subnet {self._requested} is already used on this host, by "
                        f"{on_host}: give another --pod-subnet, or remove that"
                    )
                choice: str | None = self._requested
            else:
                remembered = self._remembered()
                taken = [*holders, *used_on_host]
                choice = choose_subnet(self._cluster, taken, preferred=remembered)
                on_host = conflict(remembered, used_on_host) if remembered else None
                if on_host is not None and number == 0:
                    log.warning(
                        "pod subnet %s, this node's before, is used on this host by %s: "
                        "taking %s instead",
                        remembered, on_host, choice,
                    )  # fmt: skip
            if choice is None:
                raise SubnetUnavailable(
                    f"every /24 of {self._cluster} is taken, by nodes or on this host"
                )
            if not await self._store.claim_subnet(choice, self._node, lease_id):
                return LOST  # a peer claimed it first: look again
            log.info("leased pod subnet %s", choice)
            return choice

        subnet = await retry_on_conflict(
            attempt,
            give_up=lambda attempts: SubnetUnavailable(
                f"lost {attempts} races for a subnet of {self._cluster}"
            ),
            attempts=_ATTEMPTS,
            backoff=_spread_out,
        )
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(subnet + "\n")
        return subnet

    def _remembered(self) -> str | None:
        try:
            return self._state_file.read_text().strip() or None
        except OSError:
            return None


async def _spread_out(attempt: int) -> None:
    """After a lost race, look again after a moment, so racers spread out."""
    await asyncio.sleep(random.uniform(0, 0.1))
