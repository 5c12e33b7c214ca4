"""The cluster as the scheduler sees it: each node's labels, capacity and free room.

The view is mutable on purpose. Placing thousands of jobs one after another
(a benchmark, or a node replaying its backlog) must not rebuild it each time:
`ClusterView.apply` folds a plan's per-node allocation changes in, touching
only the nodes the plan touched.

The view holds no per-job instance counts: anti-affinity only concerns the
job being placed, and a plan reads those from the job's own schedule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from ozymandias.cluster.records import Node, Resources


@dataclass(slots=True)
class NodeView:
    """One node: what it offers, what is left, and whether it takes new instances."""

    name: str
    labels: Mapping[str, str]
    capacity_memory: int
    capacity_disk: int
    free_memory: int
    free_disk: int
    alive: bool = True
    # Millicores; last, with defaults, as a node record from before CPU was counted has none.
    capacity_cpu: int = 0
    free_cpu: int = 0
    overload: float = 0.0  # load per core above the node's threshold (`Node.overload`)
    cordoned: bool = False
    storage_domain: str | None = None  # where its shared storage reaches; None without any

    @property
    def schedulable(self) -> bool:
        """Whether new instances may be placed here (kept ones may stay on a cordoned node)."""
        return self.alive and not self.cordoned

    @property
    def allocated(self) -> Resources:
        return Resources(
            memory=self.capacity_memory - self.free_memory,
            disk=self.capacity_disk - self.free_disk,
            cpu=self.capacity_cpu - self.free_cpu,
        )


class ClusterView:
    """Every known node, by name, in name order (so iteration is deterministic),
    and the free shared storage of each storage domain (a zone, or a zoneless node)."""

    def __init__(
        self, nodes: Iterable[NodeView], shared_free: Mapping[str, int] | None = None
    ) -> None:
        self._nodes = {node.name: node for node in sorted(nodes, key=lambda n: n.name)}
        self.shared_free = dict(shared_free or {})
        # Whether ranking needs the load penalty at all: in a calm cluster it would only
        # cost a call per score.
        self.any_busy = any(node.overload > 0 for node in self._nodes.values())

    @classmethod
    def from_records(
        cls,
        nodes: Iterable[Node],
        allocations: Mapping[str, Resources],
        cordoned: Collection[str] = (),
        shared_allocated: Mapping[str, int] | None = None,
    ) -> ClusterView:
        """Build the view from the registered (hence alive) nodes and their allocation totals.

        A domain's shared capacity is the smallest its live nodes declare (they
        should all mount the same storage), less what its volumes take.
        """
        zero = Resources()
        views = []
        shared_capacity: dict[str, int] = {}
        for node in nodes:
            domain = None
            if node.shared_storage is not None:
                domain = node.storage_domain
                capacity = node.shared_storage.capacity
                shared_capacity[domain] = min(shared_capacity.get(domain, capacity), capacity)
            used = allocations.get(node.name, zero)
            views.append(
                NodeView(
                    name=node.name,
                    labels=node.labels,
                    capacity_memory=node.capacity.memory,
                    capacity_disk=node.capacity.disk,
                    free_memory=node.capacity.memory - used.memory,
                    free_disk=node.capacity.disk - used.disk,
                    capacity_cpu=node.capacity.cpu,
                    free_cpu=node.capacity.cpu - used.cpu,
                    overload=node.overload,
                    cordoned=node.name in cordoned,
                    storage_domain=domain,
                )
            )
        taken = shared_allocated or {}
        shared_free = {
            domain: capacity - taken.get(domain, 0) for domain, capacity in shared_capacity.items()
        }
        return cls(views, shared_free)

    def __iter__(self) -> Iterator[NodeView]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, name: str) -> NodeView | None:
        return self._nodes.get(name)

    def apply(self, allocation_delta: Mapping[str, Resources]) -> None:
        """Fold in a committed plan's allocation changes; nodes not in the view are skipped."""
        for name, delta in allocation_delta.items():
            node = self._nodes.get(name)
            if node is not None:
                node.free_memory -= delta.memory
                node.free_disk -= delta.disk
                node.free_cpu -= delta.cpu


@dataclass(slots=True)
class Candidate:
    """A node as one job's placement sees it, with scratch bookkeeping for that job.

    Placement changes these copies, never the `NodeView`, so an all-or-nothing
    plan that fails leaves the view untouched.
    """

    node: NodeView
    free_memory: int
    free_disk: int
    collisions: int  # instances of this job on the node, counting those this plan adds
    free_cpu: int = 0
