"""Feasibility: small filters that each decide one reason a node can't take an instance.

There are two kinds. Constraint filters look only at the node (its name, labels
and state), so a plan runs them once per node per job. Resource filters look
at a candidate's free room, which shrinks as the plan places instances, so a
plan re-checks them after every placement on a node.

Each constraint filter can also say what it requires and what the nodes it
turned down have instead: that is how a rejection explains itself (`explain.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ozymandias.cluster.records import describe_storage_domain
from ozymandias.scheduling.request import LabelExpression, PlacementRequest
from ozymandias.scheduling.view import Candidate, NodeView

# How many distinct label values or node names an explanation lists before "and N more".
_LISTED = 5


class ConstraintFilter(Protocol):
    @property
    def requirement(self) -> str:
        """The rule, as a user would write it: `zone In [eu-west-1a]`."""
        ...

    def passes(self, node: NodeView) -> bool: ...

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        """What the given nodes, all turned down by this filter, have instead."""
        ...


@dataclass(frozen=True, slots=True)
class NodeIsSchedulable:
    """New instances go only to live nodes that are not cordoned."""

    @property
    def requirement(self) -> str:
        return "a live, uncordoned node"

    def passes(self, node: NodeView) -> bool:
        return node.alive and not node.cordoned

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        down = sum(1 for node in nodes if not node.alive)
        cordoned = len(nodes) - down
        parts = [count_nodes(cordoned, "is", "are") + " cordoned"] if cordoned else []
        if down:
            parts.append(count_nodes(down, "is", "are") + " down")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class MayBeScheduledOn:
    names: tuple[str, ...]
    _allowed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allowed", frozenset(self.names))

    @property
    def requirement(self) -> str:
        return f"mayBeScheduledOn [{', '.join(self.names)}]"

    def passes(self, node: NodeView) -> bool:
        return node.name in self._allowed

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        return "the schedulable nodes are " + _listing([node.name for node in nodes])


@dataclass(frozen=True, slots=True)
class CannotBeScheduledOn:
    names: tuple[str, ...]
    _denied: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_denied", frozenset(self.names))

    @property
    def requirement(self) -> str:
        return f"cannotBeScheduledOn [{', '.join(self.names)}]"

    def passes(self, node: NodeView) -> bool:
        return node.name not in self._denied

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        return "it excludes every schedulable node: " + _listing([node.name for node in nodes])


@dataclass(frozen=True, slots=True)
class _LabelFilter:
    """Base for filters over one label key: they explain themselves the same way."""

    key: str

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        return describe_label(self.key, nodes)


@dataclass(frozen=True, slots=True)
class LabelEquals(_LabelFilter):
    """One `nodeSelector` entry: the label must be present with exactly this value."""

    value: str

    @property
    def requirement(self) -> str:
        return f"{self.key}={self.value}"

    def passes(self, node: NodeView) -> bool:
        return node.labels.get(self.key) == self.value


@dataclass(frozen=True, slots=True)
class _LabelSetFilter(_LabelFilter):
    values: tuple[str, ...]
    _set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_set", frozenset(self.values))

    def _spelled(self, operator: str) -> str:
        return f"{self.key} {operator} [{', '.join(self.values)}]"


@dataclass(frozen=True, slots=True)
class LabelIn(_LabelSetFilter):
    @property
    def requirement(self) -> str:
        return self._spelled("In")

    def passes(self, node: NodeView) -> bool:
        return node.labels.get(self.key) in self._set


@dataclass(frozen=True, slots=True)
class LabelNotIn(_LabelSetFilter):
    """A node without the label passes, as in Kubernetes."""

    @property
    def requirement(self) -> str:
        return self._spelled("NotIn")

    def passes(self, node: NodeView) -> bool:
        return node.labels.get(self.key) not in self._set


@dataclass(frozen=True, slots=True)
class LabelExists(_LabelFilter):
    @property
    def requirement(self) -> str:
        return f"{self.key} Exists"

    def passes(self, node: NodeView) -> bool:
        return self.key in node.labels


@dataclass(frozen=True, slots=True)
class LabelDoesNotExist(_LabelFilter):
    @property
    def requirement(self) -> str:
        return f"{self.key} DoesNotExist"

    def passes(self, node: NodeView) -> bool:
        return self.key not in node.labels


@dataclass(frozen=True, slots=True)
class ReachesSharedStorage:
    """A job with shared volumes runs only where they can be mounted.

    That is a node with shared storage and, once the volumes exist, one in
    their domain: a zone, or the one zoneless node they were created on.
    """

    domain: str | None = None

    @property
    def requirement(self) -> str:
        if self.domain is None:
            return "shared storage (ozy node run --shared-storage)"
        return f"shared storage in {describe_storage_domain(self.domain)}"

    def passes(self, node: NodeView) -> bool:
        if node.storage_domain is None:
            return False
        return self.domain is None or node.storage_domain == self.domain

    def describe_rejected(self, nodes: Sequence[NodeView]) -> str:
        without = sum(1 for node in nodes if node.storage_domain is None)
        parts = [count_nodes(without, "has", "have") + " no shared storage"] if without else []
        elsewhere = Counter(
            describe_storage_domain(node.storage_domain)
            for node in nodes
            if node.storage_domain is not None
        )
        parts.extend(
            f"{count_nodes(n, 'is', 'are')} in {domain}" for domain, n in sorted(elsewhere.items())
        )
        return ", ".join(parts)


_BY_OPERATOR: dict[str, Callable[[LabelExpression], ConstraintFilter]] = {
    "In": lambda e: LabelIn(e.key, e.values),
    "NotIn": lambda e: LabelNotIn(e.key, e.values),
    "Exists": lambda e: LabelExists(e.key),
    "DoesNotExist": lambda e: LabelDoesNotExist(e.key),
}


def constraint_filters(
    request: PlacementRequest, storage_domain: str | None = None
) -> list[ConstraintFilter]:
    """The job's own constraints, which a node must pass to hold any of its instances.

    For a job with shared volumes, `storage_domain` is the domain the plan
    places in (None: any node with shared storage).
    """
    filters: list[ConstraintFilter] = []
    if request.shared_volumes:
        filters.append(ReachesSharedStorage(storage_domain))
    if request.may_be_scheduled_on is not None:
        filters.append(MayBeScheduledOn(request.may_be_scheduled_on))
    if request.cannot_be_scheduled_on:
        filters.append(CannotBeScheduledOn(request.cannot_be_scheduled_on))
    filters.extend(
        LabelEquals(key, request.node_selector[key]) for key in sorted(request.node_selector)
    )
    filters.extend(_BY_OPERATOR[expression.operator](expression) for expression in request.affinity)
    return filters


@dataclass(frozen=True, slots=True)
class EnoughMemory:
    memory: int

    def passes(self, candidate: Candidate) -> bool:
        return candidate.free_memory >= self.memory


@dataclass(frozen=True, slots=True)
class EnoughDisk:
    disk: int

    def passes(self, candidate: Candidate) -> bool:
        return candidate.free_disk >= self.disk


@dataclass(frozen=True, slots=True)
class EnoughCpu:
    cpu: int  # millicores

    def passes(self, candidate: Candidate) -> bool:
        return candidate.free_cpu >= self.cpu


def describe_label(key: str, nodes: Sequence[NodeView]) -> str:
    """Summarise what the nodes have for one label: `3 nodes have zone=eu-west-1b`."""
    values = Counter(node.labels.get(key) for node in nodes)
    groups = sorted(values.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    parts = [
        count_nodes(n, "has", "have")
        + (f" {key}={value}" if value is not None else f" no {key} label")
        for value, n in groups[:_LISTED]
    ]
    rest = sum(n for _, n in groups[_LISTED:])
    if rest:
        parts.append(f"{count_nodes(rest, 'has', 'have')} other values")
    return ", ".join(parts)


def count_nodes(n: int, singular_verb: str, plural_verb: str) -> str:
    """`1 node has`, `3 nodes have`: the start of a clause about some nodes."""
    return f"1 node {singular_verb}" if n == 1 else f"{n} nodes {plural_verb}"


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown if len(names) <= _LISTED else f"{shown} and {len(names) - _LISTED} more"
