"""Keeping this node's DNS records in etcd equal to what it should publish.

The agent says which of its instances are healthy; the publisher computes
the node's whole record set (`records.node_records`), compares it with what
it last wrote, and writes the difference in one transaction under the node's
lease. It does so at once on every change of health, and whenever an alias
changes. A write that fails is retried until it succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.cluster.records import DnsAlias
from ozymandias.dns.skydns_layout import HealthyInstance, node_records
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.mirror import Mirror

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0


class DnsPublisher:
    def __init__(
        self,
        store: DnsStore,
        aliases: Mirror[DnsAlias],
        node: str,
        address: str,
        lease_id: Callable[[], int],
    ) -> None:
        self._store = store
        self._aliases = aliases
        self._node = node
        self._address = address
        self._lease_id = lease_id
        self._healthy: dict[tuple[str, int], HealthyInstance] = {}
        # What is in etcd under `_written_lease`; None until read back once, so
        # that a restarted daemon that kept its lease also cleans up its records.
        self._written: dict[str, DnsRecord] | None = None
        self._written_lease = 0
        self._in_sync = False
        self._lock = asyncio.Lock()

    async def set_health(self, key: tuple[str, int], instance: HealthyInstance | None) -> None:
        """Publish a healthy instance's records (None: withdraw them), before returning."""
        if instance is None:
            if self._healthy.pop(key, None) is None:
                return
        elif self._healthy.get(key) == instance:
            return
        else:
            self._healthy[key] = instance
        await self.flush()

    async def withdraw_all(self) -> None:
        """Withdraw every instance's records: the node is about to stop its pods."""
        self._healthy.clear()
        await self.flush()

    async def run(self) -> None:
        """Publish the node's own record, then follow alias changes; retry failed writes."""
        await self._aliases.wait_synced()
        await self.flush()
        revision = self._aliases.revision
        while True:
            try:
                async with asyncio.timeout(RETRY_SECONDS):
                    revision = await self._aliases.wait_for_change(revision)
            except TimeoutError:
                if self._in_sync:
                    continue
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            lease = self._lease_id()
            aliases = {alias.name: alias.targets for alias in self._aliases.items.values()}
            desired = node_records(
                self._store.domain, self._node, self._address, self._healthy.values(), aliases
            )
            try:
                if self._written is None or self._written_lease != lease:
                    self._written = await self._store.records_under_lease(lease)
                    self._written_lease = lease
                written = self._written
                await self._store.change_records(
                    [record for name, record in desired.items() if written.get(name) != record],
                    [name for name in written if name not in desired],
                    lease,
                )
            except StoreUnavailable as error:
                log.warning("could not publish DNS records: %s; retrying", error)
                self._written = None  # the write may or may not have landed
                self._in_sync = False
                return
            self._written = desired
            self._in_sync = True
