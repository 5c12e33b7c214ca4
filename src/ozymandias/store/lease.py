"""Keeping a node's etcd lease alive, and deciding when to treat it as lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ozymandias.metrics.node import LEASE_REFRESH
from ozymandias.store.etcd import Etcd, StoreUnavailable

log = logging.getLogger(__name__)

# While etcd does not answer, how often to try again: the lease may have only
# seconds left, so each retry counts.
_RETRY_SECONDS = 0.5

# Answers whether every peer has lost etcd too (see `LeaseKeeper`).
OutageCheck = Callable[[], Awaitable[bool]]


class LeaseKeeper:
    """Refreshes one lease every TTL/3 until cancelled; sets `lost` when it must be given up.

    The lease is lost when etcd says it has expired, or when no refresh has
    succeeded for `fence_after` seconds (the TTL by default), counted from
    when the last good refresh was *sent*: etcd restarts the TTL no earlier
    than that, so by then peers may be re-placing this node's instances.

    One exception: when `everyone_cut_off` says no peer reaches etcd either,
    nobody can commit a re-placement, and etcd extends every lease when it
    comes back (a new leader renews them all), so the lease is held rather
    than given up. Once a peer reaches etcd again, this node has
    `ttl - ttl/3` seconds to get through itself before it gives up.
    """

    def __init__(
        self,
        etcd: Etcd,
        lease_id: int,
        ttl: int,
        *,
        fence_after: float | None = None,
        everyone_cut_off: OutageCheck | None = None,
    ) -> None:
        self.lease_id = lease_id
        self.ttl = ttl
        self.fence_after = fence_after if fence_after is not None else float(ttl)
        self.lost = asyncio.Event()
        self._etcd = etcd
        self._everyone_cut_off = everyone_cut_off
        self._last_refresh = time.monotonic()
        self._holding = False
        self._hold_ends: float | None = None

    @property
    def silent_for(self) -> float:
        """Seconds since the last refresh that etcd answered was sent."""
        return time.monotonic() - self._last_refresh

    async def run(self) -> None:
        interval = self.ttl / 3
        pause = interval
        while not self.lost.is_set():
            await asyncio.sleep(pause)
            sent = time.monotonic()
            left = self._last_refresh + self.fence_after - sent
            try:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can
                # swallow a cancellation, which would hang the node's shutdown.
                async with asyncio.timeout(max(0.2, min(interval, left))):
                    remaining = await self._etcd.refresh_lease(self.lease_id)
            except (StoreUnavailable, TimeoutError) as error:
                log.warning(
                    "lease %x: refresh failed (%s), %.1fs since the last",
                    self.lease_id,
                    error or type(error).__name__,
                    self.silent_for,
                )
                if self.silent_for >= self.fence_after and not await self._may_hold():
                    log.error(
                        "lease %x: not refreshed for %.1fs (fence after %.1fs); treating it as"
                        " lost: peers may be re-placing this node's instances",
                        self.lease_id,
                        self.silent_for,
                        self.fence_after,
                    )
                    self.lost.set()
                    return
                pause = _RETRY_SECONDS
                continue
            if remaining <= 0:
                log.error("lease %x: etcd says it has expired", self.lease_id)
                self.lost.set()
                return
            LEASE_REFRESH.observe(time.monotonic() - sent)
            if self._holding:
                log.warning("lease %x: etcd answers again; the lease was kept", self.lease_id)
            # bench/isolation.py reads these to measure how late refreshes are.
            log.debug(
                "lease %x refreshed %.3fs after the previous refresh",
                self.lease_id,
                sent - self._last_refresh,
            )
            self._last_refresh = sent
            self._holding = False
            self._hold_ends = None
            pause = interval

    async def _may_hold(self) -> bool:
        """Whether to keep the lease through this outage instead of giving it up."""
        if self._everyone_cut_off is None:
            return False
        if await self._everyone_cut_off():
            if not self._holding:
                log.warning(
                    "lease %x: no peer reaches etcd either; keeping the instances running "
                    "until etcd is back (nobody can re-place them meanwhile)",
                    self.lease_id,
                )
            self._holding = True
            self._hold_ends = None
            return True
        if not self._holding:
            return False
        # A peer got through, so etcd is back and has renewed the lease: it now
        # lasts at least a TTL from then. Leave a refresh interval of margin.
        now = time.monotonic()
        if self._hold_ends is None:
            self._hold_ends = now + self.ttl - self.ttl / 3
            log.warning("lease %x: peers reach etcd again; retrying to reach it", self.lease_id)
        return now < self._hold_ends
