"""`kubectl get pods` with 1,000 instances: what the Kubernetes API's list costs a node.

The node's real mirrors are filled (over an in-memory etcd; no podman, no
etcd) with `--jobs` jobs of `--per-job` running instances each, and its real
Kubernetes API app (kube_api/app.py: token check, request limits, the pods
route, the watch hub the list is read from, kube/'s Pods and Table) answers
`GET /api/v1/namespaces/default/pods` in process, through httpx's ASGI
transport: the time measured is the server's, with no network. Two shapes,
`--requests` times each:

- the Table kubectl get asks for (`Accept: application/json;as=Table;...`,
  includeObject=Metadata by default), what `kubectl get pods` prints;
- the PodList of `kubectl get pods -o json`.

It prints p50/p90/p99 and the answer's size. Goal: under 100 ms server side.

    PYTHONPATH=src .venv/bin/python bench/kube_get.py [--jobs 20] [--per-job 50] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import httpx

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import make_token
from ozymandias.api.auth import Guard
from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.services import ApiServices
from ozymandias.api.watch_stream import WatchStreams
from ozymandias.cluster.records import (
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Node,
    Resources,
    Schedule,
)
from ozymandias.kube_api.app import create_kube_app
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd
from ozymandias.store.watch_sources import events_mirror
from ozymandias.watch.watches import Watches

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.memory_etcd import MemoryEtcd  # noqa: E402

SECRET = "kube-get-bench-secret-0123456789abcdefghijklmnop"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
PODS = "/api/v1/namespaces/default/pods"
NODES = 50


def fill(etcd: MemoryEtcd, jobs: int, per_job: int) -> None:
    """Nodes, jobs of two containers, their schedules and running instances, and a token."""
    for n in range(NODES):
        node = Node(
            name=f"n{n}",
            address=f"10.0.0.{n + 1}",
            api_url=f"https://10.0.0.{n + 1}:7070",
            capacity=Resources(memory=64 << 30, disk=500 << 30, cpu=16000),
            started_at=time.time() - 3600,
            pod_subnet=f"10.213.{n}.0/24",
        )
        etcd.put(keys.node(node.name), node.to_json())
    for j in range(jobs):
        name = f"job{j:04d}"
        spec = load_job(
            f"name: {name}\nnumInstances: {per_job}\nlabels: {{tier: web}}\n"
            "containers: {app: {image: localhost/web, memory: 32M}, "
            "side: {image: localhost/tools, memory: 16M}}"
        )
        etcd.put(keys.job(name), JobRecord(spec=spec, submitted_at=time.time()).to_json())
        placements = {i: f"n{(j * per_job + i) % NODES}" for i in range(per_job)}
        etcd.put(keys.schedule(name), Schedule(job=name, placements=placements).to_json())
        for i, node_name in placements.items():
            status = InstanceStatus(
                job=name,
                index=i,
                node=node_name,
                state=InstanceState.RUNNING,
                health=Health.HEALTHY,
                pod_ip=f"10.213.{i % 250}.{i % 200 + 2}",
                spec_version=1,
                updated_at=time.time() - 600,
            )
            etcd.put(keys.instance(name, i), status.to_json())
    etcd.put(keys.acl_token("bench"), make_token("bench", Role.READ, SECRET).to_json())


def services_of(mirrors: ClusterMirrors, etcd: Etcd) -> ApiServices:
    """What the pods route reads (the mirrors, the watch hubs); the rest is never called."""
    unused = cast(Any, None)
    return ApiServices(
        jobs=unused, history=unused, mirrors=mirrors, store=unused, agent=unused,
        node=mirrors.node_list()[0], aliases=unused, ingress=unused, spec_limits=unused,
        follows=unused, acl=unused, peers=unused, secrets=unused, registries=unused,
        deployments=unused,
        watches=WatchStreams(Watches(mirrors, lambda: events_mirror(etcd)), ApiLimits()),
    )  # fmt: skip


def quantiles(seconds: list[float]) -> str:
    ordered = sorted(seconds)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(len(ordered) * fraction) - 1)] * 1000

    return (
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p90 {at(0.90):.1f} ms, "
        f"p99 {at(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms"
    )


async def measure(client: httpx.AsyncClient, accept: str, requests: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(PODS, headers={"accept": accept})
        times.append(time.perf_counter() - started)
        response.raise_for_status()
        size = len(response.content)
    return times, size


async def main(jobs: int, per_job: int, requests: int) -> None:
    etcd = MemoryEtcd()
    fill(etcd, jobs, per_job)
    mirrors = ClusterStore(cast(Etcd, etcd)).mirrors()
    tasks = [asyncio.create_task(mirror.run()) for mirror in mirrors.all()]
    await mirrors.wait_synced()
    services = services_of(mirrors, cast(Etcd, etcd))
    app = create_kube_app(services, Guard(mirrors.tokens), ApiLimits())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="https://kube.test",
        headers={"authorization": f"Bearer {SECRET}"},
    ) as client:
        first = time.perf_counter()
        listed = (await client.get(PODS, headers={"accept": TABLE})).json()
        print(f"{len(listed['rows'])} pods in {jobs} jobs on {NODES} nodes")
        first_ms = (time.perf_counter() - first) * 1000
        print(f"first list (starts the instances' watch hub): {first_ms:.1f} ms")
        for what, accept in (
            ("kubectl get pods (Table)", TABLE),
            ("-o json (PodList)", "application/json"),
        ):
            times, size = await measure(client, accept, requests)
            print(f"{what}: {quantiles(times)}; {size / 1024:.0f} KiB ({requests} requests)")
    await services.watches.watches.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        f"command: PYTHONPATH=src .venv/bin/python bench/kube_get.py --jobs {jobs} "
        f"--per-job {per_job} --requests {requests}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--per-job", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.jobs, arguments.per_job, arguments.requests))
