"""The node's gauges, read from its own state at scrape time.

The capacity and allocation of this node are two lookups in the mirrors, and
its instances are the agent's tracks of the pods it runs: the cost of a
scrape grows with this node's pods, never with the cluster's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from prometheus_client.metrics_core import Metric

from ozymandias.cluster.records import Node, Resources
from ozymandias.metrics import node
from ozymandias.metrics.families import Family, described

_FAMILIES = (
    node.CAPACITY_MEMORY,
    node.CAPACITY_DISK,
    node.CAPACITY_CPU,
    node.ALLOCATED_MEMORY,
    node.ALLOCATED_DISK,
    node.ALLOCATED_CPU,
    node.INSTANCES,
    node.LEASE_AGE,
)

_MILLICORES_PER_CORE = 1000


class NodeCollector:
    """Reports one node's capacity, allocation, instances and lease age when scraped.

    Each argument is a read of live state: the node's own record and
    allocation total (None until the mirrors have them), the (job, state) of
    each pod the agent runs, and the seconds since the last lease refresh.
    """

    def __init__(
        self,
        record: Callable[[], Node | None],
        allocation: Callable[[], Resources | None],
        instances: Callable[[], Iterable[tuple[str, str]]],
        lease_age: Callable[[], float],
    ) -> None:
        self._record = record
        self._allocation = allocation
        self._instances = instances
        self._lease_age = lease_age

    def describe(self) -> list[Metric]:
        return described(_FAMILIES)

    def collect(self) -> list[Metric]:
        record = self._record()
        capacity = record.capacity if record is not None else None
        metrics = [
            *_resources(capacity, node.CAPACITY_MEMORY, node.CAPACITY_DISK, node.CAPACITY_CPU),
            *_resources(
                self._allocation(), node.ALLOCATED_MEMORY, node.ALLOCATED_DISK, node.ALLOCATED_CPU
            ),
        ]
        metrics.append(instance_counts(Counter(self._instances())))
        age = node.LEASE_AGE.empty()
        age.add_metric([], self._lease_age())
        metrics.append(age)
        return metrics


def instance_counts(counts: Mapping[tuple[str, str], int]) -> Metric:
    """`ozy_node_instances`, one sample per job and state."""
    family = node.INSTANCES.empty()
    for (job, state), count in sorted(counts.items()):
        family.add_metric([job, state], count)
    return family


def _resources(
    resources: Resources | None,
    memory: Family,
    disk: Family,
    cpu: Family,
) -> list[Metric]:
    values = (
        (resources.memory, resources.disk, resources.cpu / _MILLICORES_PER_CORE)
        if resources is not None
        else None
    )
    families: list[Metric] = []
    for position, gauge in enumerate((memory, disk, cpu)):
        family = gauge.empty()
        if values is not None:
            family.add_metric([], values[position])
        families.append(family)
    return families
