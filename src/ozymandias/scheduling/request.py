"""What the scheduler needs to know about a job: its pod size and where it may run.

The scheduler depends on this small record rather than on the full job spec,
so it stays independent of everything in a spec that placement ignores
(images, ports, health checks) and its tests can build requests directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ozymandias.cluster.records import Resources, SharedVolume

if TYPE_CHECKING:
    from ozymandias.spec.models import JobSpec

Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]


@dataclass(frozen=True, slots=True)
class LabelExpression:
    """One affinity rule over node labels, with Kubernetes semantics."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SharedVolumeNeed:
    """One shared volume the job mounts, and where it already lives, if it exists yet."""

    name: str
    size: int
    domain: str | None = None  # None: created in the domain of the job's first placement
    existing_size: int = 0  # what the existing volume is counted as now


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """One job's placement needs: how many pods, how big, and which nodes qualify."""

    job: str
    count: int
    memory: int
    disk: int
    may_be_scheduled_on: tuple[str, ...] | None = None
    cannot_be_scheduled_on: tuple[str, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: tuple[LabelExpression, ...] = ()
    shared_volumes: tuple[SharedVolumeNeed, ...] = ()
    cpu: int = 0  # millicores

    @property
    def pod(self) -> Resources:
        return Resources(memory=self.memory, disk=self.disk, cpu=self.cpu)

    @property
    def shared_growth(self) -> int:
        """Bytes of shared storage this request adds: new volumes, and growth of existing ones."""
        return sum(volume.size - volume.existing_size for volume in self.shared_volumes)

    @property
    def volume_domains(self) -> list[str]:
        """The domains the job's existing shared volumes live in (one, unless something broke)."""
        return sorted({volume.domain for volume in self.shared_volumes if volume.domain})


def request_from_spec(
    spec: JobSpec, volumes: Mapping[str, SharedVolume] | None = None
) -> PlacementRequest:
    """The placement request for a job spec, given the job's shared volumes that exist."""
    existing = volumes or {}
    constraints = spec.scheduling_constraints
    may: tuple[str, ...] | None = None
    cannot: tuple[str, ...] = ()
    if constraints is not None:
        if constraints.may_be_scheduled_on is not None:
            may = tuple(constraints.may_be_scheduled_on)
        cannot = tuple(constraints.cannot_be_scheduled_on)
    return PlacementRequest(
        job=spec.name,
        count=spec.num_instances,
        memory=spec.pod_memory,
        disk=spec.pod_disk,
        cpu=spec.pod_cpu,
        may_be_scheduled_on=may,
        cannot_be_scheduled_on=cannot,
        node_selector=dict(spec.node_selector),
        affinity=tuple(
            LabelExpression(key=e.key, operator=e.operator, values=tuple(e.values))
            for e in spec.affinity
        ),
        shared_volumes=tuple(
            SharedVolumeNeed(name, size)
            if name not in existing
            else SharedVolumeNeed(name, size, existing[name].domain, existing[name].size)
            for name, size in sorted(spec.shared_volumes.items())
        ),
    )
