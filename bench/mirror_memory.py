"""What a node's mirrors hold per record, measured with tracemalloc (issue #21).

Writes the control-plane bench's cluster (bench/control_plane.py, the small
scenario by default) into a throwaway etcd, then, in this process, starts the
node's mirrors one at a time (every ClusterMirrors mirror) and measures
what each keeps once synced: its bytes, its bytes per record, and the
allocation sites that hold the most. Last, the DNS records: followed (they
are not mirrored, see store/dns_store.py) into the DNS server's zone.

    .venv/bin/python bench/mirror_memory.py [--jobs 1000 --nodes 100 --per-job 10]

Needs etcd; no root, no network.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

# As bench/control_plane.py: bench/dns.py must not stand in for dnspython.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))

from tests.support.etcd import EtcdServer
from tests.support.simulated_cluster import Scenario, write_cluster

from ozymandias.dns.server import DnsServer
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.etcd import Etcd
from ozymandias.store.mirror import Mirror

TOP_SITES = 4
SHOWN_BYTES = 64 * 1024  # smaller sites are the watch's own, not the records'


def held() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )


def report(name: str, count: int, before: tracemalloc.Snapshot) -> None:
    after = held()
    diff = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in diff)
    per = total / count if count else 0
    print(f"{name:<22}{count:>9}{total / 2**20:>10.1f}{per:>10.0f}")
    for stat in sorted(diff, key=lambda s: s.size_diff, reverse=True)[:TOP_SITES]:
        if stat.size_diff < SHOWN_BYTES:
            break
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"{'':<4}{where:<40}{stat.size_diff / 2**20:>8.1f} MiB")


async def measure(url: str) -> None:
    etcd = Etcd(url, timeout=60)
    mirrors = ClusterMirrors.following(etcd)
    dns_records = DnsStore(etcd, DEFAULT_DOMAIN).record_changes()
    followed: list[tuple[str, Mirror[Any]]] = [
        (mirror.prefix.decode(), mirror) for mirror in mirrors.all()
    ]
    tasks = []
    print(f"{'mirror':<22}{'records':>9}{'MiB':>10}{'B/record':>10}")
    try:
        for name, mirror in followed:
            before = held()
            tasks.append(asyncio.create_task(mirror.run()))
            await mirror.wait_synced()
            report(name, len(mirror.items), before)
        before = held()
        tasks.append(asyncio.create_task(dns_records.run()))
        await dns_records.wait_synced()
        whole, _, revision = dns_records.take()
        records = whole or {}
        server = DnsServer(DEFAULT_DOMAIN, [])
        server.update(records.values(), revision)
        count = len(records)
        del whole, records  # the zone's alone now, as in serve_records
        report("DNS records + zone", count, before)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await etcd.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10)
    args = parser.parse_args()
    scenario = Scenario(args.nodes, args.jobs, args.per_job)
    with tempfile.TemporaryDirectory() as scratch:
        etcd = EtcdServer(Path(scratch) / "etcd")
        etcd.start()
        try:
            asyncio.run(write_cluster(etcd.url, scenario, random.Random(21), probe_port=1))
            tracemalloc.start(1)
            asyncio.run(measure(etcd.url))
        finally:
            etcd.stop()


if __name__ == "__main__":
    main()
