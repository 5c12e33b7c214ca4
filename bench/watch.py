"""What a watch stream costs a node with many instances (in process, no etcd, no podman).

Builds the cluster state of `--jobs` jobs of `--per-job` instances each in
the node's real mirrors (over an in-memory etcd), then starts the instances
hub as a node does on its first watcher, and measures:

1. the hub's start: every job's instances shown once (the first watcher
   pays it, later ones do not), and the first list's size on the wire;
2. a pass after one instance's status changes: what the hub recomputes (that
   job only) and sends, as the time from the change to its batch, less the
   coalescing wait; against recomputing and comparing every instance, which
   a hub without the mirrors' change log would do each time.

Run: .venv/bin/python bench/watch.py [--jobs 100] [--per-job 50] [--changes 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

from ozymandias.cluster.records import (
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Schedule,
)
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from ozymandias.watch import sse
from ozymandias.watch.changes import changes_between
from ozymandias.watch.feeds import INSTANCE, instance_feed
from ozymandias.watch.hub import Hub, HubSettings

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.memory_etcd import MemoryEtcd  # noqa: E402


def status(job: str, index: int, restarts: int = 0) -> InstanceStatus:
    return InstanceStatus(
        job=job,
        index=index,
        node=f"n{index % 50}",
        state=InstanceState.RUNNING,
        health=Health.HEALTHY,
        pod_ip=f"10.213.{index % 250}.{index % 200 + 2}",
        restarts=restarts,
        spec_version=1,
    )


def fill(etcd: MemoryEtcd, jobs: int, per_job: int) -> None:
    for j in range(jobs):
        name = f"job{j:04d}"
        spec = load_job(f"name: {name}\nnumInstances: {per_job}\ncontainers: {{app: {{image: x}}}}")
        etcd.put(keys.job(name), JobRecord(spec=spec).to_json())
        placements = {i: f"n{i % 50}" for i in range(per_job)}
        etcd.put(keys.schedule(name), Schedule(job=name, placements=placements).to_json())
        for i in range(per_job):
            etcd.put(keys.instance(name, i), status(name, i).to_json())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def main(jobs: int, per_job: int, changes: int) -> None:
    etcd = MemoryEtcd()
    fill(etcd, jobs, per_job)
    mirrors: ClusterMirrors = ClusterStore(cast(Etcd, etcd)).mirrors()
    tasks = [asyncio.create_task(mirror.run()) for mirror in mirrors.all()]
    await mirrors.wait_synced()
    settings = HubSettings(coalesce_seconds=0.0)
    hub = Hub(instance_feed(mirrors), settings)
    started = time.perf_counter()
    tasks.append(asyncio.create_task(hub.run()))
    subscription, start = await hub.subscribe(None, lambda: None)
    hub_start = time.perf_counter() - started
    assert start.snapshot is not None
    wire = sum(len(sse.change_message(INSTANCE, start.revision, c)) for c in start.snapshot)
    print(f"{jobs * per_job} instances in {jobs} jobs")
    print(f"hub start (every instance shown once): {ms(hub_start)}")
    print(f"first list on the wire: {len(start.snapshot)} events, {wire / 1024:.0f} KiB")

    latencies = []
    for n in range(changes):
        job = f"job{n % jobs:04d}"
        before = time.perf_counter()
        etcd.put(keys.instance(job, 0), status(job, 0, restarts=n + 1).to_json())
        batch = await subscription.queue.get()
        latencies.append(time.perf_counter() - before)
        assert batch is not None and len(batch.changes) == 1
    latencies.sort()
    p99 = latencies[max(0, round(len(latencies) * 0.99) - 1)]
    print(
        f"one status change → its batch: p50 {ms(statistics.median(latencies))}, p99 {ms(p99)}"
        f" ({changes} changes)"
    )

    feed = instance_feed(mirrors)
    before = time.perf_counter()
    everything = feed.views(feed.all_groups())
    total: dict[str, Any] = {n: o for objects in everything.values() for n, o in objects.items()}
    changes_between(total, dict(total))
    print(
        f"without the change log, each pass would recompute all: {ms(time.perf_counter() - before)}"
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--per-job", type=int, default=50)
    parser.add_argument("--changes", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.jobs, arguments.per_job, arguments.changes))
