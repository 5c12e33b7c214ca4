"""Instance statuses as the mirrors keep them: small, with repeated strings shared (#21).

Every node mirrors every instance status in the cluster, 100,000 of them at
the scale issue #21 aims for. A pydantic `InstanceStatus` costs ~1.5 KB there
(its `__dict__`, its set of fields given, its own copy of every string); most
of it is per-object overhead, not data. `CompactStatus` keeps the same fields in
`__slots__`, with the strings many statuses repeat (job, node, reason, container
name and state) interned, and containers in a tuple (Python's one empty tuple
when there are none). It takes ~0.2 KB without containers, ~0.45 KB with one
(bench/mirror_memory.py). `expand` builds the record back for a reader that needs the model; it
skips validation, since every compact status came from a validated record.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ozymandias.cluster.records import ContainerStatus, Health, InstanceState, InstanceStatus


@dataclass(frozen=True, slots=True)
class CompactContainer:
    """A `ContainerStatus` in slots."""

    name: str
    state: str
    exit_code: int | None
    restarts: int
    crash_streak: int
    restart_at: float | None


@dataclass(frozen=True, slots=True)
class CompactStatus:
    """An `InstanceStatus` in slots: the same fields, read the same way."""

    job: str
    index: int
    node: str
    state: InstanceState
    reason: str
    pod_ip: str
    restarts: int
    spec_version: int
    containers: tuple[CompactContainer, ...]
    updated_at: float
    health: Health
    healthy_since: float
    pod_id: str


def compact(status: InstanceStatus) -> CompactStatus:
    """The status in its compact form."""
    return CompactStatus(
        job=sys.intern(status.job),
        index=status.index,
        node=sys.intern(status.node),
        state=status.state,
        reason=sys.intern(status.reason),
        pod_ip=status.pod_ip,
        restarts=status.restarts,
        spec_version=status.spec_version,
        containers=tuple(
            CompactContainer(
                name=sys.intern(c.name),
                state=sys.intern(c.state),
                exit_code=c.exit_code,
                restarts=c.restarts,
                crash_streak=c.crash_streak,
                restart_at=c.restart_at,
            )
            for c in status.containers
        ),
        updated_at=status.updated_at,
        health=status.health,
        healthy_since=status.healthy_since,
        pod_id=status.pod_id,
    )


def decode(raw: bytes) -> CompactStatus:
    """Validate a stored status and keep it compact (ValueError when it is not one)."""
    return compact(InstanceStatus.from_json(raw))


def expand(status: CompactStatus) -> InstanceStatus:
    """The full record again, equal to the one `status` was made from."""
    return InstanceStatus.model_construct(
        job=status.job,
        index=status.index,
        node=status.node,
        state=status.state,
        reason=status.reason,
        pod_ip=status.pod_ip,
        restarts=status.restarts,
        spec_version=status.spec_version,
        containers=[expand_container(c) for c in status.containers],
        updated_at=status.updated_at,
        health=status.health,
        healthy_since=status.healthy_since,
        pod_id=status.pod_id,
    )


def expand_container(container: CompactContainer | ContainerStatus) -> ContainerStatus:
    """The container's full record (itself when it is one already)."""
    if isinstance(container, ContainerStatus):
        return container
    return ContainerStatus.model_construct(
        name=container.name,
        state=container.state,
        exit_code=container.exit_code,
        restarts=container.restarts,
        crash_streak=container.crash_streak,
        restart_at=container.restart_at,
    )
