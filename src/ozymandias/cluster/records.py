"""The records the cluster keeps in etcd, as plain typed data.

These are shared vocabulary: the scheduler reads and writes them, the store
serialises them, the agent acts on them and the API shows them. They hold no
behaviour beyond arithmetic on resources, so every layer can use them without
depending on any other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ozymandias.spec.models import JobSpec
from ozymandias.spec.update import UpdatePolicy


class Record(BaseModel):
    """Base for etcd records: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)


class Resources(Record):
    """An amount of schedulable resources: memory and disk in bytes, CPU in millicores.

    CPU is counted in thousandths of a core, as Kubernetes' `500m`, so sums stay
    exact integers; a record written before CPU was counted reads as 0.
    """

    memory: int = 0
    disk: int = 0
    cpu: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            memory=self.memory + other.memory,
            disk=self.disk + other.disk,
            cpu=self.cpu + other.cpu,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            memory=self.memory - other.memory,
            disk=self.disk - other.disk,
            cpu=self.cpu - other.cpu,
        )

    def __mul__(self, count: int) -> Resources:
        return Resources(memory=self.memory * count, disk=self.disk * count, cpu=self.cpu * count)

    def fits_within(self, available: Resources) -> bool:
        return (
            self.memory <= available.memory
            and self.disk <= available.disk
            and self.cpu <= available.cpu
        )


# The node label that names a node's zone: nodes in one zone share storage.
ZONE_LABEL = "zone"


class SharedStorage(Record):
    """A node's shared-storage root: storage its zone's nodes all mount at one path.

    Only the capacity travels in the record; the path is the node's own business.
    """

    capacity: int = Field(description="bytes the zone's shared volumes may take in total")


class NodeSoftware(Record):
    """What a node runs, as it reports it (kubectl's `get nodes -o wide` shows it)."""

    ozy_version: str = ""
    os_image: str = Field("", description="the host's PRETTY_NAME from os-release")
    kernel_version: str = ""
    architecture: str = Field("", description="as Kubernetes names it: amd64, arm64...")


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
    shared_storage: SharedStorage | None = None
    load: float = Field(0.0, description="1-minute load average per core, as last reported")
    load_threshold: float = Field(
        0.8, description="load per core above which the node asks to be passed over"
    )
    software: NodeSoftware = Field(default_factory=NodeSoftware)

    @property
    def overload(self) -> float:
        """How far the node's load is above its threshold: 0 for a node that is not busy."""
        return max(0.0, self.load - self.load_threshold)

    @property
    def storage_domain(self) -> str:
        """Where this node's shared storage reaches: its zone, or only itself without one."""
        return storage_domain(self.name, self.labels)


def storage_domain(node_name: str, labels: Mapping[str, str]) -> str:
    """`zone=a` for a node labelled with a zone, `node=<name>` for one without."""
    zone = labels.get(ZONE_LABEL)
    return f"{ZONE_LABEL}={zone}" if zone is not None else f"node={node_name}"


def describe_storage_domain(domain: str) -> str:
    """`zone a` or `node n1`, for messages."""
    kind, _, name = domain.partition("=")
    return f"{kind} {name}"


class Cordon(Record):
    """An operator's mark on a node: place no new instances there.

    Kept apart from the `Node` record, which the node rewrites whenever it
    registers, so a cordon survives the node's restarts.
    """

    node: str
    since: float


class Drain(Record):
    """An operator's request to empty a node (`ozy node drain`); the node is cordoned too.

    Every job's instances on it move elsewhere through the deployment path
    (each new one healthy before the old one goes); what is left at
    `deadline`, or at once with `force`, is stopped and placed again elsewhere.
    """

    node: str
    started_at: float
    deadline: float = Field(description="unix time")
    force: bool = False

    def expired(self, now: float) -> bool:
        return self.force or now >= self.deadline


class InstanceState(enum.StrEnum):
    """Where an instance is in its life, as its node reports it."""

    PENDING = "pending"  # placed, but its node has not started it yet
    PULLING = "pulling"  # its images are being pulled, before its pod is created
    WAITING = "waiting"  # held by its node until the jobs it depends on are ready (dependsOn)
    STARTING = "starting"  # the pod is being created and its containers started
    RUNNING = "running"  # every container is running
    COMPLETED = "completed"  # its containers exited 0, and their policy does not restart them
    FAILED = "failed"  # the instance cannot run (for example, its image is missing)
    STOPPING = "stopping"  # leaving: out of DNS and ingress, its pod stops after a short drain


class Health(enum.StrEnum):
    """What an instance's healthchecks say; only healthy instances are in DNS.

    A pod without healthchecks is healthy while all its containers run.
    """

    STARTING = "starting"  # started, and no verdict yet
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class ContainerStatus(Record):
    # etcd keeps the field names; the API shows them in camelCase, like the rest of its JSON.
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    name: str
    state: str = Field(description="running, exited, or created")
    exit_code: int | None = None
    restarts: int = 0
    crash_streak: int = Field(
        default=0, description="exits in a row that each ran under a minute (drives the back-off)"
    )
    restart_at: float | None = Field(
        default=None, description="when an exited container is due to be restarted (Unix time)"
    )


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
    healthy_since: float = Field(
        0.0, description="when it last became healthy (unix time); 0 while it is not"
    )
    pod_id: str = Field(
        "",
        description="which pod runs it: new when the pod is replaced (a restart, a new version),"
        " kept across container restarts; empty while it has none (the Kubernetes API's Pod uid)",
    )

    @property
    def settled(self) -> bool:
        """Doing what it was started for: running and healthy, or a one-shot that completed."""
        if self.state is InstanceState.COMPLETED:
            return True
        return self.state is InstanceState.RUNNING and self.health is Health.HEALTHY


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


def system_instance_name(job: str, node: str) -> str:
    """The name users see for a system job's instance: its node's, `log-shipper-node-a`.

    The index stays the instance's name inside (the agents run it, as any other's).
    """
    return f"{job}-{node}"


class JobRecord(Record):
    """A submitted job: its spec, and a version that changes when the pods must change.

    Scaling changes `spec.num_instances` but not `version`: only a change to
    what runs inside each pod makes nodes recreate their pods.
    """

    spec: JobSpec
    version: int = 1
    submitted_at: float = 0.0
    created_at: float = Field(
        0.0,
        description="when the job was first submitted (its Deployment's age and uid); 0 in a "
        "record written before it was kept",
    )
    secrets_revision: int = Field(
        0,
        description="the etcd revision of the newest secret this version's pods use: a node "
        "starts them only once its mirror of secrets has reached it",
    )
    stable_version: int = Field(
        0, description="the newest version whose deployment succeeded (0: none yet)"
    )
    older: dict[int, JobSpec] = Field(
        default_factory=dict,
        description="the specs of older versions some instance still runs (see Schedule.versions)",
    )

    def created_since(self, fallback: float) -> float:
        """When the job was first submitted, or `fallback` if its record does not say."""
        return self.created_at or self.submitted_at or fallback

    def spec_of_version(self, version: int) -> JobSpec | None:
        """The spec instances pinned to `version` run, if it is still known."""
        return self.spec if version == self.version else self.older.get(version)


class SharedVolume(Record):
    """A job's shared volume, created with the job's first placement, in that node's domain.

    It outlives the job unless purged, so a job re-created with the same name
    finds its data again, and every instance must be placed where it can be
    reached: in `domain`.
    """

    job: str
    name: str
    size: int
    domain: str = Field(description="zone=<zone>, or node=<name> for a node without a zone")
    created_at: float = 0.0
    deleting: bool = Field(False, description="set when removal is asked; a node removes it")

    @property
    def full_name(self) -> str:
        return f"{self.job}/{self.name}"


class VolumeUsage(Record):
    """How much of one volume is used, as the node that measured it saw."""

    kind: Literal["local", "shared"]
    job: str
    name: str
    index: int | None = Field(None, description="the instance, for a local volume")
    size: int
    used: int | None = None


class NodeVolumes(Record):
    """Every volume a node holds or reaches, with its usage (under the node's lease)."""

    node: str
    volumes: list[VolumeUsage] = Field(default_factory=list)
    measured_at: float = 0.0


class Schedule(Record):
    """Which node runs each instance of one job: the scheduler's decision.

    One value per job keeps a commit small: a 1,000-instance job is one key.
    """

    job: str
    placements: dict[int, str] = Field(default_factory=dict, description="index -> node")
    pending: dict[int, str] = Field(
        default_factory=dict, description="index -> why it could not be placed"
    )
    versions: dict[int, int] = Field(
        default_factory=dict,
        description="index -> the older job version it still runs; absent: the job's version",
    )
    surge: dict[int, int] = Field(
        default_factory=dict,
        description="index of a new instance a deployment started beside the old ones -> the "
        "index it replaces once healthy (-1 for a canary not yet promoted)",
    )

    nodes: dict[int, str] = Field(
        default_factory=dict,
        description="of a system job: index -> the node the instance belongs to, placed there "
        "or pending for want of room; empty for a service job",
    )

    def version_of(self, index: int, job_version: int) -> int:
        return self.versions.get(index, job_version)

    commit_id: str = Field(
        default="",
        description="set by each commit, so a commit whose answer was lost can be recognised",
    )
    job_version: int = Field(
        default=0,
        description="the job version committed with it: the job and schedule mirrors follow "
        "etcd apart, and a node acts only on a job whose two agree",
    )


class AclToken(Record):
    """An API token: its role, and only the SHA-256 of its secret (see acl/tokens.py)."""

    accessor: str
    name: str
    role: Literal["read", "deploy", "admin"]
    secret_hash: str
    create_time: float


class SealedSecret(Record):
    """A secret: its key names and version in the clear, its values sealed (secrets/sealing.py).

    Nothing here opens without a node's key, so etcd, its backups and its
    snapshots never hold a value.
    """

    name: str
    keys: list[str]
    version: int
    update_time: float
    key_id: str
    nonce: str = Field(description="base64")
    ciphertext: str = Field(description="base64, with GCM's tag")


class RegistryLogin(Record):
    """A registry's credential for every node's pulls: the password sealed as a secret's
    values are (secrets/sealing.py, under the name `registry <registry>`)."""

    registry: str
    username: str
    update_time: float
    key_id: str
    nonce: str = Field(description="base64")
    ciphertext: str = Field(description="base64, with GCM's tag")
    ca: str | None = Field(None, description="PEM: the CA the registry's certificate is from")


class PeerCredential(Record):
    """The secret nodes show each other; no user token is it, and it opens only peer routes.

    Unlike a token it is kept whole: every node must present it. Whoever can
    read etcd learns it, and can already do far more.
    """

    secret: str


class DeploymentStatus(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # canaries are healthy and wait for `ozy promote`
    SUCCESSFUL = "successful"
    FAILED = "failed"
    REVERTED = "reverted"  # failed, and the job goes back to its last stable version

    @property
    def active(self) -> bool:
        return self in (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED)


class Deployment(Record):
    """The rollout of one job version (see deployments/): decided from etcd state by any node.

    Kept per version, so `ozy history` can tell which versions were stable.
    """

    job: str
    version: int
    status: DeploymentStatus = DeploymentStatus.RUNNING
    description: str = ""
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)
    created_at: float
    updated_at: float
    last_progress_at: float = Field(description="when an instance last counted healthy")
    revert_of: int = Field(0, description="the failed version this deployment reverts, if any")
    satisfied_by: list[int] = Field(
        default_factory=list,
        description="older versions whose pods are already what this version runs (a revert)",
    )
    promoted: bool = False
    fail_requested: str = Field("", description="who asked to fail it (`ozy deployment fail`)")
    placed: dict[int, float] = Field(
        default_factory=dict, description="index -> when this deployment started it"
    )
    healthy: list[int] = Field(
        default_factory=list, description="instances it placed that counted healthy"
    )
    retired: list[int] = Field(
        default_factory=list,
        description="old instances it stopped: their names are not reused before it ends",
    )
    desired: int = 0
    unhealthy: int = 0
    failed_instance: str = Field("", description="the instance that failed it, and why")
    moves: dict[int, str] = Field(
        default_factory=dict,
        description="a rebalance's: index -> the node its replacement must run on",
    )

    @property
    def stable(self) -> bool:
        return self.status is DeploymentStatus.SUCCESSFUL


class JobVersion(Record):
    """One submitted version of a job, kept for `ozy history` and `ozy rollback`.

    Its deployment's status is copied here when the deployment ends, so the
    history outlives the one deployment record a job keeps.
    """

    job: str
    version: int
    spec: JobSpec
    submitted_at: float
    deployment_status: DeploymentStatus | None = None

    @property
    def stable(self) -> bool:
        return self.deployment_status is DeploymentStatus.SUCCESSFUL
