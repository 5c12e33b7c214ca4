"""The DNS records followed without a mirror's copy (store/dns_store.py's RecordChanges),
against a real etcd: the whole set after a scan, then each name's last change, and the
whole set again when it follows anew (a scan, e.g. after a compaction), with nothing kept
once taken."""

from __future__ import annotations

import asyncio
import contextlib

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.store.dns_store import DnsStore, RecordChanges
from ozymandias.store.etcd import Etcd
from tests.support.etcd import EtcdServer

DOMAIN = "changes.local"


def record(name: str, host: str) -> DnsRecord:
    return DnsRecord(f"{name}.{DOMAIN}", host)


async def taken_after(
    changes: RecordChanges, revision: int
) -> tuple[dict[str, DnsRecord] | None, dict[str, DnsRecord | None], int]:
    """What there is to take once the changes reach `revision`."""
    await asyncio.wait_for(changes.wait_for_change(revision - 1), 30)
    return changes.take()


async def test_the_whole_set_then_each_change_then_the_whole_set_after_a_compaction(
    etcd: EtcdServer,
) -> None:
    client = Etcd(etcd.url)
    store = DnsStore(client, DOMAIN)
    changes = store.record_changes()
    await store.change_records([record("a", "10.9.0.1"), record("b", "10.9.0.2")], [], 0)
    task = asyncio.create_task(changes.run())
    try:
        await asyncio.wait_for(changes.wait_synced(), 30)
        whole, pending, revision = changes.take()
        assert whole is not None and pending == {}
        assert sorted(r.host for r in whole.values()) == ["10.9.0.1", "10.9.0.2"]
        assert changes.items == {}

        await store.change_records([record("a", "10.9.0.3")], [f"b.{DOMAIN}"], 0)
        await store.change_records([record("c", "10.9.0.4")], [], 0)
        whole, pending, revision = await taken_after(changes, revision + 2)
        assert whole is None
        assert pending == {
            f"a.{DOMAIN}": record("a", "10.9.0.3"),
            f"b.{DOMAIN}": None,
            f"c.{DOMAIN}": record("c", "10.9.0.4"),
        }

        # Stop following, change, follow again: a new scan, whose whole set has no
        # trace of the deleted record.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.change_records([], [f"a.{DOMAIN}"], 0)
        await store.change_records([record("d", "10.9.0.5")], [], 0)
        task = asyncio.create_task(changes.run())
        whole, pending, _ = await taken_after(changes, revision + 2)
        assert whole is not None and pending == {}
        assert sorted(whole) == [f"c.{DOMAIN}", f"d.{DOMAIN}"]
        assert changes.take()[0] is None  # taken: forgotten
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()
