"""What one change costs the ingress controller, from scratch against incremental (pure).

Builds `--jobs` jobs of `--per-job` instances, all healthy and routed, then
applies `--changes` changes of each kind and times, per change, what the
controller does before it talks to HAProxy:

- before (from scratch, as the controller did): every route recomputed from
  every job and status (`compute_routes`), the layout planned anew, the
  runtime commands found, and the whole config rendered (the proxy rewrote its
  file on each runtime update);
- after (incremental, as the controller now does): the changed job's part
  recomputed (`RouteTable`); for a health change, its backends moved in their
  pool's slots (`with_backends`), else the layout planned reusing every
  unchanged pool; the runtime commands found (the proxy no longer renders
  the file on a runtime update).

Kinds: a health flip (an instance turns unhealthy, or healthy again), and a
new job (a shape change, which reloads HAProxy in either case: only the
computation is timed, not the reload). In process, no etcd, no HAProxy.

Run: .venv/bin/python bench/ingress_routes.py [--jobs 1000] [--per-job 10] [--changes 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ozymandias.cluster.records import Health, InstanceState, InstanceStatus
from ozymandias.ingress.haproxy_config import (
    Layout,
    Settings,
    http_pool_name,
    plan_layout,
    render_config,
    runtime_commands,
    tcp_pool_name,
    with_backends,
)
from ozymandias.ingress.route_table import RouteTable
from ozymandias.ingress.routes import Backend, compute_routes
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import JobSpec

HTTP_PORT = 8080
SETTINGS = Settings(HTTP_PORT, Path("/run/stats.sock"), Path("/run/hosts.map"))


def spec(name: str) -> JobSpec:
    return load_job(f"name: {name}\ncontainers: {{app: {{image: x, ports: ['80:3000']}}}}\n")


def status(job: str, index: int, healthy: bool) -> InstanceStatus:
    return InstanceStatus(
        job=job,
        index=index,
        node=f"n{index % 100}",
        state=InstanceState.RUNNING,
        health=Health.HEALTHY if healthy else Health.UNHEALTHY,
        pod_ip=f"10.{index % 200}.{hash(job) % 250}.{index % 250}",
    )


class Cluster:
    """Jobs and statuses as a node's mirrors hold them."""

    def __init__(self, jobs: int, per_job: int) -> None:
        self.specs = {f"job-{n:05d}": spec(f"job-{n:05d}") for n in range(jobs)}
        self.statuses = {
            name: {index: status(name, index, True) for index in range(per_job)}
            for name in self.specs
        }

    def every_status(self) -> list[InstanceStatus]:
        return [s for group in self.statuses.values() for s in group.values()]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(changes: int, change: Callable[[int], None], follow: Callable[[], None]) -> list[float]:
    """Per change: the state is changed (untimed), then `follow` is timed."""
    times = []
    for n in range(changes):
        change(n)
        started = time.perf_counter()
        follow()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run(jobs: int, per_job: int, changes: int) -> None:
    rng = random.Random(21)
    cluster = Cluster(jobs, per_job)
    layout = plan_layout(
        compute_routes(cluster.specs.values(), cluster.every_status(), {HTTP_PORT})
    )
    table = RouteTable({HTTP_PORT})
    for name, job_spec in cluster.specs.items():
        table.update(name, job_spec, cluster.statuses[name].values())
    assert table.routes() == compute_routes(
        cluster.specs.values(), cluster.every_status(), {HTTP_PORT}
    )
    table_layout = plan_layout(table.routes())
    touched: list[str] = []
    commands = {"before": 0, "after": 0}

    def flip(_: int) -> None:
        name = rng.choice(list(cluster.specs))
        index = rng.randrange(per_job)
        old = cluster.statuses[name][index]
        cluster.statuses[name][index] = status(name, index, old.health is not Health.HEALTHY)
        touched.append(name)

    def new_job(n: int) -> None:
        name = f"new-{n:05d}-{len(touched)}"
        cluster.specs[name] = spec(name)
        cluster.statuses[name] = {0: status(name, 0, True)}
        touched.append(name)

    def from_scratch() -> None:
        nonlocal layout
        routes = compute_routes(cluster.specs.values(), cluster.every_status(), {HTTP_PORT})
        new = plan_layout(routes, layout)
        if new.shape() == layout.shape():
            commands["before"] += len(runtime_commands(layout, new))
        render_config(new, SETTINGS)
        layout = new

    def incremental() -> None:
        nonlocal table_layout
        name = touched[-1]
        table.update(name, cluster.specs.get(name), cluster.statuses[name].values())
        # As the controller does: backends moved in their pools, else every route planned.
        changes = table.take_changes()
        moved = None
        if changes.backends_only:
            moved = with_backends(table_layout, pool_backends(table, changes.jobs))
        new = moved if moved is not None else plan_layout(table.routes(), table_layout)
        if new.shape() == table_layout.shape():
            commands["after"] += len(runtime_commands(table_layout, new))
        else:
            # A reload renders the config in both cases.
            render_config(new, SETTINGS)
        table_layout = new

    results: dict[str, tuple[list[float], list[float]]] = {}
    for kind, change in (("health flip", flip), ("new job", new_job)):
        # Each side sees its own changes of the same kind, the state moving on between.
        before = timed(changes, change, from_scratch)
        # Untimed: the table takes the changes the other side saw.
        for name in set(touched):
            table.update(name, cluster.specs.get(name), cluster.statuses[name].values())
        table.take_changes()
        table_layout = plan_layout(table.routes(), table_layout)
        after = timed(changes, change, incremental)
        results[kind] = (before, after)
        # Both sides must agree on where they ended up.
        scratch = compute_routes(cluster.specs.values(), cluster.every_status(), {HTTP_PORT})
        assert table.routes() == scratch
        assert _same_backends(plan_layout(scratch), table_layout)

    print(f"ingress routes: {jobs} jobs x {per_job} instances, {changes} changes of each kind")
    print(f"{'change':<12} {'before p50/p99 ms':>20} {'after p50/p99 ms':>20} {'p50 ratio':>10}")
    for kind, (before, after) in results.items():
        b50, b99 = statistics.median(before), percentile(before, 0.99)
        a50, a99 = statistics.median(after), percentile(after, 0.99)
        print(f"{kind:<12} {b50:>9.3f} / {b99:>8.3f} {a50:>9.3f} / {a99:>8.3f} {b50 / a50:>9.0f}x")
    print(
        f"runtime commands per health flip: before {commands['before'] / changes:.1f},"
        f" after {commands['after'] / changes:.1f}"
    )


def pool_backends(table: RouteTable, jobs: Iterable[str]) -> dict[str, tuple[Backend, ...]]:
    backends = {}
    for job in jobs:
        http, tcp = table.job_routes(job)
        if http is not None:
            backends[http_pool_name(job)] = http.backends
        backends |= {tcp_pool_name(route.port): route.backends for route in tcp}
    return backends


def _same_backends(first: Layout, second: Layout) -> bool:
    def backends(layout: Layout) -> dict[str, set[object]]:
        return {pool.name: {slot for slot in pool.slots if slot} for pool in layout.pools}

    return backends(first) == backends(second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10)
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    run(args.jobs, args.per_job, args.changes)


if __name__ == "__main__":
    main()
