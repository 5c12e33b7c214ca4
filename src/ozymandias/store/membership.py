"""A node's membership of the cluster: its etcd lease, taken, kept alive, lost and given back.

Everything the node writes that must vanish with it (its node record, its
instance statuses, DNS records, subnet, volume usage) is written under this
one lease. The lease id is remembered in the node's data dir (lease.json), so
a restarted daemon resumes a lease that is still alive, and with it the pods
peers still count as running here.

While a member, a `LeaseKeeper` refreshes the lease and says when it must be
treated as lost, on a thread of its own (`LeaseThread`), so that nothing the
node does on its event loop can delay a refresh. Once it is lost, the node
fences (stops its pods, see node.py), waits for etcd, and joins again under
a new lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd, StoreUnavailable
from ozymandias.store.lease import OutageCheck
from ozymandias.store.lease_thread import LeaseThread

log = logging.getLogger(__name__)

# A fenced node waits for etcd with a back-off doubling up to this, so a long
# outage costs one quiet attempt every few seconds, never a busy loop.
REJOIN_RETRY_MAX_SECONDS = 10.0


class Membership:
    """This node's lease: `lease_id` (0 until taken), and the keeper of the current term."""

    def __init__(
        self,
        store: ClusterStore,
        node_name: str,
        ttl: int,
        lease_file: Path,
        *,
        fence_after: float | None = None,
        keeper_channel: Callable[[], Etcd] | None = None,
    ) -> None:
        """`fence_after`: seconds without a refresh before the lease counts as lost (None: TTL).

        `keeper_channel` opens the keeper's own connection to etcd (by default,
        a new channel to the store's endpoints), on the keeper's thread.
        """
        self.ttl = ttl
        self.lease_file = lease_file
        self._store = store
        self._etcd = store.etcd
        self._node = node_name
        self._fence_after = fence_after
        self._lease_id = 0
        self._keeper_channel = keeper_channel or (
            lambda: Etcd(store.etcd.endpoint, security=store.etcd.security)
        )
        self._keeper: LeaseThread | None = None

    @property
    def lease_id(self) -> int:
        return self._lease_id

    def current(self) -> int:
        """The lease id now: for the parts that read it each time they write under it."""
        return self._lease_id

    async def take(self, remove_leftovers: Callable[[], Awaitable[int]]) -> None:
        """Keep the previous run's lease if it is still alive; otherwise start afresh.

        A live lease means peers still count this node's instances as running
        here, so its pods are adopted. An expired one means they may have
        been placed elsewhere already, so local leftovers are removed
        (`remove_leftovers`, which says how many there were).
        """
        previous = self._read_lease_file()
        if (
            previous
            and await self._etcd.lease_time_left(previous) > 0
            and await self._store.node_lease(self._node) in (previous, None)
        ):
            self._lease_id = previous
            log.info("kept the live lease %x of the previous run", previous)
            return
        if previous:
            removed = await remove_leftovers()
            log.warning("previous lease expired: removed %d leftover pods", removed)
        self._lease_id = await self._etcd.grant_lease(self.ttl)
        self.lease_file.parent.mkdir(parents=True, exist_ok=True)
        self.lease_file.write_text(json.dumps({"lease_id": self._lease_id}))

    def begin_term(self, everyone_cut_off: OutageCheck | None = None) -> None:
        """Start counting a new term of membership: a fresh keeper, not yet lost.

        `everyone_cut_off` answers whether no peer reaches etcd either (see
        `LeaseKeeper`).
        """
        self._keeper = LeaseThread(
            self._keeper_channel,
            self._lease_id,
            self.ttl,
            fence_after=self._fence_after,
            everyone_cut_off=everyone_cut_off,
        )

    async def keep(self) -> None:
        """Refresh the lease until cancelled or lost (then `lost` is set)."""
        await self._term.run()

    @property
    def lost(self) -> asyncio.Event:
        """Set once this term's lease must be given up: the node must fence."""
        return self._term.lost

    @property
    def silent_for(self) -> float:
        """Seconds since this term's last lease refresh that etcd answered was sent."""
        return self._term.silent_for

    async def wait_to_rejoin(self, stopping: asyncio.Event) -> bool:
        """After fencing, wait (with back-off) until etcd answers; False if `stopping` is set first.

        The old lease is revoked once etcd answers, whatever its state, so
        peers see the old membership end before the new one begins.
        """
        delay = 1.0
        while not stopping.is_set():
            try:
                if await self._etcd.lease_time_left(self._lease_id) > 0:
                    await self._etcd.revoke_lease(self._lease_id)
            except StoreUnavailable as error:
                log.warning("fenced, waiting for etcd (next try in %.0fs): %s", delay, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), delay)
                delay = min(delay * 2, REJOIN_RETRY_MAX_SECONDS)
                continue
            log.warning("etcd answers again: rejoining as a new node")
            return True
        return False

    async def leave(self) -> None:
        """Give the lease back and forget it, so no later run resumes it.

        When etcd does not answer, the lease is remembered: it may still hold the
        node's record, and only a run that resumes it may register the name again
        (a new lease would be refused until this one expired).
        """
        if self._lease_id:
            try:
                await self._etcd.revoke_lease(self._lease_id)
            except StoreUnavailable as error:
                log.warning("could not give the lease back, kept it for the next run: %s", error)
                return
            self.lease_file.unlink(missing_ok=True)

    @property
    def _term(self) -> LeaseThread:
        if self._keeper is None:
            raise RuntimeError("no term of membership has begun")
        return self._keeper

    def _read_lease_file(self) -> int | None:
        try:
            return int(json.loads(self.lease_file.read_text())["lease_id"])
        except (OSError, ValueError, KeyError):
            return None
