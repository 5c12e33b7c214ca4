"""Keeping a node's etcd lease alive, and noticing when it is gone."""

from __future__ import annotations

import asyncio
import logging
import time

from ozymandias.store.etcd import Etcd, StoreUnavailable

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Refreshes one lease every TTL/3 until cancelled; sets `lost` when it expires.

    The lease counts as lost either when etcd says so, or when no refresh has
    succeeded for a whole TTL: past that point etcd may already have expired
    it and peers may be acting on that, whatever this node believes.
    """

    def __init__(self, etcd: Etcd, lease_id: int, ttl: int) -> None:
        self.lease_id = lease_id
        self.ttl = ttl
        self.lost = asyncio.Event()
        self._etcd = etcd
        self._last_refresh = time.monotonic()

    async def run(self) -> None:
        interval = self.ttl / 3
        while not self.lost.is_set():
            await asyncio.sleep(interval)
            try:
                remaining = await asyncio.wait_for(
                    self._etcd.refresh_lease(self.lease_id), timeout=interval
                )
            except (StoreUnavailable, TimeoutError) as error:
                silent_for = time.monotonic() - self._last_refresh
                log.warning(
                    "lease %x: refresh failed (%s), %.1fs since the last",
                    self.lease_id,
                    error,
                    silent_for,
                )
                if silent_for >= self.ttl:
                    log.error(
                        "lease %x: not refreshed for a whole TTL; treating it as lost",
                        self.lease_id,
                    )
                    self.lost.set()
                continue
            if remaining <= 0:
                log.error("lease %x: etcd says it has expired", self.lease_id)
                self.lost.set()
                return
            self._last_refresh = time.monotonic()
