"""What the watch streams follow: which mirrors, and which object group a changed key is of.

A watch recomputes only the groups (jobs, nodes, events) whose keys changed;
reading a key's group is knowing the key layout, so it lives here with the
keys, and the watch package (watch/) never sees a key's bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ozymandias.cluster.records import Event
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.etcd import Etcd
from ozymandias.store.mirror import Mirror


@dataclass(frozen=True)
class Followed:
    """One mirror a watch follows, and the group each of its keys belongs to."""

    mirror: Mirror[Any]
    group_of: Callable[[bytes], str]

    def changed_groups(self, revision: int) -> set[str] | None:
        """The groups with a key changed after `revision`; None if the mirror cannot tell."""
        changed = self.mirror.changed_since(revision)
        if changed is None:
            return None
        return {self.group_of(key) for key in changed}


def _after(prefix: bytes) -> Callable[[bytes], str]:
    return lambda key: keys.name_after(prefix, key)


def job_sources(mirrors: ClusterMirrors) -> list[Followed]:
    """An instance or a job summary changes with its job, its schedule and its statuses."""
    return [
        Followed(mirrors.jobs, _after(keys.JOBS)),
        Followed(mirrors.schedules, _after(keys.SCHEDULES)),
        Followed(mirrors.instances, lambda key: keys.instance_address(key)[0]),
    ]


def rollout_sources(mirrors: ClusterMirrors) -> list[Followed]:
    """A job shown with its rollout (a Kubernetes Deployment) changes with its deployment too."""
    return [*job_sources(mirrors), Followed(mirrors.deployments, _after(keys.DEPLOYMENTS))]


def node_sources(mirrors: ClusterMirrors) -> list[Followed]:
    """A node's view changes with its record, its allocation, a cordon and a drain."""
    return [
        Followed(mirrors.nodes, _after(keys.NODES)),
        Followed(mirrors.allocations, _after(keys.ALLOCATIONS)),
        Followed(mirrors.cordons, _after(keys.CORDONS)),
        Followed(mirrors.drains, _after(keys.DRAINS)),
    ]


def events_mirror(etcd: Etcd) -> Mirror[Event]:
    """A mirror of the event log, which the nodes do not otherwise follow."""
    return Mirror(etcd, keys.EVENTS, lambda _, raw: Event.from_json(raw))


def event_sources(events: Mirror[Event]) -> list[Followed]:
    """Each event is its own group, named by its id (its key after the prefix)."""
    return [Followed(events, _after(keys.EVENTS))]


def event_by_id(events: Mirror[Event], event_id: str) -> Event | None:
    return events.items.get(keys.EVENTS + event_id.encode())


def event_ids(events: Mirror[Event]) -> list[str]:
    """Every event's id, oldest first (ids begin with the event's zero-padded time)."""
    return sorted(keys.name_after(keys.EVENTS, key) for key in events.items)
