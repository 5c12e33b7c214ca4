"""Instance statuses as the mirrors keep them: small, with repeated strings shared (#21).

Every node mirrors every instance status in the cluster, 100,000 of them at
the scale issue #21 aims for. A pydantic `InstanceStatus` costs ~1.5 KB there
(its `__dict__`, its set of fields given, its own copy of every string); most
of it is per-object overhead, not data. `CompactStatus` keeps the same fields
in a named tuple (as small as `__slots__`, and quicker to build), with the
strings many statuses repeat (job, node, reason, container name and state)
interned, and containers in a tuple (Python's one empty tuple when there are
none): ~0.2 KB without containers, ~0.45 KB with one. `expand` builds the
record back for a reader that needs the model.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

from ozymandias.cluster.records import ContainerStatus, Health, InstanceState, InstanceStatus


class CompactContainer(NamedTuple):
    """A `ContainerStatus` as a tuple."""

    name: str
    state: str
    exit_code: int | None
    restarts: int
    crash_streak: int
    restart_at: float | None


class CompactStatus(NamedTuple):
    """An `InstanceStatus` as a tuple: the same fields, read the same way."""

    job: str
    # Hides tuple.index, which nothing calls on a status.
    index: int  # type: ignore[assignment]
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
    fields = status._asdict()
    fields["containers"] = [container._asdict() for container in status.containers]
    # Validating trusted fields is quicker here than `model_construct`, which fills
    # in defaults field by field.
    return InstanceStatus.model_validate(fields)


def expand_container(container: CompactContainer | ContainerStatus) -> ContainerStatus:
    """The container's full record (itself when it is one already)."""
    if isinstance(container, ContainerStatus):
        return container
    return ContainerStatus.model_validate(container._asdict())
