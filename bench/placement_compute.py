"""How fast the pure scheduler places instances, with no etcd in the way.

Builds a cluster of nodes labelled with zones and submits jobs one after
another through `plan_all_or_nothing`, folding each plan into the view as the
store would after committing it. Prints placements per second.

    .venv/bin/python bench/placement_compute.py           # 5,000 nodes, 1,000 jobs x 1,000
    .venv/bin/python bench/placement_compute.py --small   # 500 nodes, 100 jobs x 100
"""

from __future__ import annotations

import argparse
import random
import time

from ozymandias.cluster.records import Resources
from ozymandias.scheduling import (
    ClusterView,
    LabelExpression,
    NodeView,
    PlacementRequest,
    PlanResult,
    check_invariants,
    plan_all_or_nothing,
)

GIB = 1024**3
MIB = 1024**2
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")


def build_cluster(node_count: int, rng: random.Random) -> ClusterView:
    nodes = []
    for i in range(node_count):
        memory = rng.choice((64, 128, 256)) * GIB
        disk = rng.choice((500, 1000, 2000)) * GIB
        nodes.append(
            NodeView(
                name=f"node-{i:05d}",
                labels={"zone": ZONES[i % len(ZONES)]},
                capacity_memory=memory,
                capacity_disk=disk,
                free_memory=memory,
                free_disk=disk,
            )
        )
    return ClusterView(nodes)


def build_jobs(job_count: int, instances: int, rng: random.Random) -> list[PlacementRequest]:
    jobs = []
    for i in range(job_count):
        # One job in five is pinned to a zone, as a latency-sensitive service would be.
        affinity: tuple[LabelExpression, ...] = ()
        if i % 5 == 0:
            affinity = (LabelExpression("zone", "In", (ZONES[i % len(ZONES)],)),)
        jobs.append(
            PlacementRequest(
                job=f"job-{i:04d}",
                count=instances,
                memory=rng.choice((128, 256, 512)) * MIB,
                disk=rng.choice((100, 500, 1000)) * MIB,
                affinity=affinity,
            )
        )
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="500 nodes, 100 jobs x 100 instances")
    parser.add_argument("--check", action="store_true", help="verify the invariants at the end")
    args = parser.parse_args()
    node_count, job_count, instances = (500, 100, 100) if args.small else (5000, 1000, 1000)

    rng = random.Random(42)
    view = build_cluster(node_count, rng)
    jobs = build_jobs(job_count, instances, rng)

    placements = rejections = 0
    schedules = []
    start = time.perf_counter()
    for request in jobs:
        result = plan_all_or_nothing(request, None, view)
        if isinstance(result, PlanResult):
            view.apply(result.allocation_delta)
            placements += len(result.placed)
            schedules.append(result.schedule)
        else:
            rejections += 1
    elapsed = time.perf_counter() - start

    print(f"nodes: {node_count}, jobs: {job_count} x {instances} instances")
    print(f"placed {placements} instances, {rejections} jobs rejected")
    print(f"total time: {elapsed:.2f}s")
    print(f"placements/s: {placements / elapsed:,.0f}")
    if args.check:
        capacities = {
            n.name: Resources(memory=n.capacity_memory, disk=n.capacity_disk) for n in view
        }
        allocations = {n.name: n.allocated for n in view}
        pods = {r.job: r.pod for r in jobs}
        violations = check_invariants(capacities, allocations, schedules, pods)
        print(f"invariant violations: {len(violations)}")
        for violation in violations[:10]:
            print("  " + violation)


if __name__ == "__main__":
    main()
