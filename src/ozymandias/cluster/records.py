"""The records the cluster keeps in etcd, as plain typed data.

These are shared vocabulary: the scheduler reads and writes them, the store
serialises them, the agent acts on them and the API shows them. They hold no
behaviour beyond arithmetic on resources, so every layer can use them without
depending on any other.
"""

from __future__ import annotations

import enum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from ozymandias.spec.models import JobSpec


class Record(BaseModel):
    """Base for etcd records: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)


class Resources(Record):
    """An amount of schedulable resources, in bytes."""

    memory: int = 0
    disk: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(memory=self.memory + other.memory, disk=self.disk + other.disk)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(memory=self.memory - other.memory, disk=self.disk - other.disk)

    def __mul__(self, count: int) -> Resources:
        return Resources(memory=self.memory * count, disk=self.disk * count)

    def fits_within(self, available: Resources) -> bool:
        return self.memory <= available.memory and self.disk <= available.disk


class Node(Record):
    """A node as it registers itself: what it offers and how to reach it.

    Kept under the node's lease, so the record vanishes when the node dies.
    """

    name: str
    address: str = Field(description="host address other nodes and pods use to reach it")
    api_url: str = Field(description="base URL of this node's HTTP API")
    labels: dict[str, str] = Field(default_factory=dict)
    capacity: Resources
    started_at: float = Field(description="unix time the daemon registered")
    pod_subnet: str = Field("", description="the node's pod subnet, which peers route to it")


class Cordon(Record):
    """An operator's mark on a node: place no new instances there.

    Kept apart from the `Node` record, which the node rewrites whenever it
    registers, so a cordon survives the node's restarts.
    """

    node: str
    since: float


class InstanceState(enum.StrEnum):
    """Where an instance is in its life, as its node reports it."""

    PENDING = "pending"  # placed, but its node has not started it yet
    STARTING = "starting"  # the pod is being created and its containers started
    RUNNING = "running"  # every container is running
    EXITED = "exited"  # a container exited and its restart policy does not restart it
    FAILED = "failed"  # the instance cannot run (for example, its image is missing)


class Health(enum.StrEnum):
    """What an instance's healthchecks say; only healthy instances are in DNS.

    A pod without healthchecks is healthy while all its containers run.
    """

    STARTING = "starting"  # started, and no verdict yet
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class ContainerStatus(Record):
    name: str
    state: str = Field(description="running, exited, or created")
    exit_code: int | None = None
    restarts: int = 0


class InstanceStatus(Record):
    """What a node reports about one instance it runs (kept under its lease)."""

    job: str
    index: int
    node: str
    state: InstanceState
    reason: str = ""
    pod_ip: str = ""
    restarts: int = 0
    spec_version: int = 0
    containers: list[ContainerStatus] = Field(default_factory=list)
    updated_at: float = 0.0
    health: Health = Health.STARTING


class Event(Record):
    """Something that happened that an operator may want to read later."""

    time: float
    kind: str = Field(description="a short machine-readable name, e.g. instance-started")
    message: str
    job: str = ""
    instance: str = ""
    node: str = ""


class DnsAlias(Record):
    """A DNS name in the cluster domain that resolves to the union of its targets."""

    name: str = Field(description="full name, e.g. frontend.cluster.local")
    targets: list[str] = Field(description="full names of jobs, pods, nodes or other aliases")


def instance_name(job: str, index: int) -> str:
    """The name users see for one instance of a job: `simple-webapp-0`."""
    return f"{job}-{index}"


class JobRecord(Record):
    """A submitted job: its spec, and a version that changes when the pods must change.

    Scaling changes `spec.num_instances` but not `version`: only a change to
    what runs inside each pod makes nodes recreate their pods.
    """

    spec: JobSpec
    version: int = 1
    submitted_at: float = 0.0


class Schedule(Record):
    """Which node runs each instance of one job: the scheduler's decision.

    One value per job keeps a commit small: a 1,000-instance job is one key.
    """

    job: str
    placements: dict[int, str] = Field(default_factory=dict, description="index -> node")
    pending: dict[int, str] = Field(
        default_factory=dict, description="index -> why it could not be placed"
    )
    commit_id: str = Field(
        default="",
        description="set by each commit, so a commit whose answer was lost can be recognised",
    )
