"""Simulated nodes flipping instance statuses between healthy and unhealthy (issue #21).

Each flip is written as its node would write it: one transaction putting the
status under the node's lease and putting (healthy) or deleting (unhealthy)
the instance's DNS records. bench/control_plane_flips.py measures a real node
under them; tests/integration/test_control_plane_scale.py checks it ends up exact.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from ozymandias.cluster.records import Health, InstanceStatus
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, HealthyInstance, node_name, node_records
from ozymandias.spec.models import PortMapping
from ozymandias.store import keys
from ozymandias.store.etcd import Delete, Etcd, Operation, Put

TICK = 0.05  # the flipper writes a batch this often


@dataclass
class FlipTarget:
    """One instance as the flips see it: its current status, and where its records go."""

    status: InstanceStatus
    address: str
    ports: tuple[PortMapping, ...]


def flip_operations(target: FlipTarget, lease: int) -> list[Operation]:
    """Flip `target`'s health (in place) and return the writes its node would make."""
    status = target.status
    healthy = status.health != Health.HEALTHY
    status = status.model_copy(
        update={
            "health": Health.HEALTHY if healthy else Health.UNHEALTHY,
            "updated_at": time.time(),
        }
    )
    target.status = status
    instance = HealthyInstance(status.job, status.index, status.pod_ip, target.ports)
    records = node_records(DEFAULT_DOMAIN, status.node, target.address, [instance], {})
    del records[node_name(status.node, DEFAULT_DOMAIN)]
    operations: list[Operation] = [
        Put(keys.instance(status.job, status.index), status.to_json(), lease=lease)
    ]
    for name, record in records.items():
        if healthy:
            operations.append(Put(keys.skydns(name), record.to_json(), lease=lease))
        else:
            operations.append(Delete(keys.skydns(name)))
    return operations


async def flip(etcd: Etcd, target: FlipTarget, lease: int) -> None:
    outcome = await etcd.transaction([], flip_operations(target, lease))
    assert outcome.applied


async def flipper(
    etcd: Etcd, targets: list[FlipTarget], lease: int, rate: int, until: float, seed: int = 5
) -> int:
    """Flip `rate` random targets a second until the loop's time `until`; how many."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    per_tick = max(1, round(rate * TICK))
    flipped = 0
    due = loop.time()
    while loop.time() < until:
        batch = rng.sample(targets, per_tick)
        await asyncio.gather(*(flip(etcd, target, lease) for target in batch))
        flipped += len(batch)
        due += TICK
        await asyncio.sleep(max(0.0, due - loop.time()))
    return flipped
