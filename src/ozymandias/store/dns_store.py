"""The cluster's DNS state in etcd: SkyDNS records and the aliases users define.

Records sit under /skydns/ in the layout CoreDNS's etcd plugin reads, each
under the lease of the node that publishes it. Aliases are cluster objects
under /ozy/dns-aliases/, changed only through compare-and-swap so that two
concurrent edits can never close a cycle between them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.cluster.records import DnsAlias
from ozymandias.store import keys
from ozymandias.store.etcd import Delete, Etcd, Operation, Put, StoreUnavailable, Unchanged
from ozymandias.store.mirror import Mirror


class RecordChanges(Mirror[DnsRecord]):
    """Follows the cluster domain's records as a Mirror does (scan, watch, resume,
    scan again after a compaction), but keeps none of them: it holds what changed
    until its one reader, the DNS server, takes it into its zone, which keeps each
    record once. (At 100,000 instances a node follows some 300,000 records; a
    mirror's copy of them, with their keys and revisions, cost more than the zone.)
    `items` stays empty.
    """

    def __init__(self, etcd: Etcd, prefix: bytes) -> None:
        super().__init__(etcd, prefix, _decode_record)
        # After a scan, every record by name (changes after it folded in), until taken.
        self._whole: dict[str, DnsRecord] | None = None
        # Otherwise each name changed since the last take: its record, or None if gone.
        self._pending: dict[str, DnsRecord | None] = {}

    def changed_since(self, revision: int) -> set[bytes] | None:
        """Unknown: nothing is kept to say (a follower must look at everything)."""
        return None

    async def catch_up(self, revision: int) -> None:
        raise TypeError("the DNS records' changes keep no items to page through")

    def take(self) -> tuple[dict[str, DnsRecord] | None, dict[str, DnsRecord | None], int]:
        """The whole record set if a scan came since the last take (else None), the
        changes since, and the revision both reflect; then forgets them."""
        whole, pending = self._whole, self._pending
        self._whole, self._pending = None, {}
        return whole, pending, self.revision

    async def _scan(self) -> None:
        revision, pairs = await self._etcd.scan(self.prefix)
        whole: dict[str, DnsRecord] = {}
        for pair in pairs:
            record = self._decode_or_none(pair.key, pair.value)
            if record is not None:
                whole[record.name] = record
        self._whole, self._pending = whole, {}
        await self._advance(revision)
        self._synced.set()

    async def _follow(self) -> None:
        async for event in self._etcd.watch_prefix(self.prefix, self.revision + 1):
            name = keys.skydns_name(event.key)
            # A value that does not decode is left out, as a scan leaves it out.
            record = None if event.value is None else self._decode_or_none(event.key, event.value)
            if self._whole is None:
                self._pending[name] = record
            elif record is None:
                self._whole.pop(name, None)
            else:
                self._whole[name] = record
            await self._advance(event.mod_revision)
        raise StoreUnavailable(f"watch on {self.prefix.decode()} ended")


def _decode_record(key: bytes, raw: bytes) -> DnsRecord:
    return DnsRecord.from_json(keys.skydns_name(key), raw)


class DnsStore:
    def __init__(self, etcd: Etcd, domain: str) -> None:
        self.etcd = etcd
        self.domain = domain
        # Only the cluster domain's records: /skydns/ may hold other zones too.
        self._records_prefix = keys.skydns(domain) + b"/"

    def record_changes(self) -> RecordChanges:
        return RecordChanges(self.etcd, self._records_prefix)

    def aliases_mirror(self) -> Mirror[DnsAlias]:
        return Mirror(self.etcd, keys.DNS_ALIASES, lambda _, raw: DnsAlias.from_json(raw))

    # Records

    async def records_under_lease(self, lease_id: int) -> dict[str, DnsRecord]:
        """The records a node holds under `lease_id`, e.g. written before a restart."""
        _, pairs = await self.etcd.scan(self._records_prefix)
        return {
            record.name: record
            for record in (
                DnsRecord.from_json(keys.skydns_name(pair.key), pair.value)
                for pair in pairs
                if pair.lease == lease_id
            )
        }

    async def change_records(
        self, put: Iterable[DnsRecord], delete: Iterable[str], lease_id: int
    ) -> None:
        """Write and remove records in one transaction, the written ones under `lease_id`."""
        operations: list[Operation] = [
            Put(keys.skydns(record.name), record.to_json(), lease=lease_id) for record in put
        ]
        operations += [Delete(keys.skydns(name)) for name in delete]
        if operations:
            await self.etcd.transaction([], operations)

    # Aliases

    async def read_aliases(self) -> dict[str, tuple[DnsAlias, int]]:
        """Every alias with its mod_revision, read at one revision."""
        _, pairs = await self.etcd.scan(keys.DNS_ALIASES)
        aliases = [(DnsAlias.from_json(pair.value), pair.mod_revision) for pair in pairs]
        return {alias.name: (alias, revision) for alias, revision in aliases}

    async def put_alias(self, alias: DnsAlias, basis: dict[str, tuple[DnsAlias, int]]) -> bool:
        """Write `alias` if no alias changed since `basis` was read; False if one did."""
        guards = [Unchanged(keys.dns_alias(name), rev) for name, (_, rev) in basis.items()]
        if alias.name not in basis:
            guards.append(Unchanged(keys.dns_alias(alias.name), 0))
        outcome = await self.etcd.transaction(
            guards, [Put(keys.dns_alias(alias.name), alias.to_json())]
        )
        return outcome.applied

    async def delete_alias(self, name: str) -> bool:
        """Remove an alias; False if there was none."""
        if await self.etcd.get(keys.dns_alias(name)) is None:
            return False
        await self.etcd.delete(keys.dns_alias(name))
        return True
