"""Values passed to and returned by the podman runtime adapter, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Labels the adapter itself puts on what it creates, so that pod and container
# names can be recovered from `podman ps` output and from events (podman 4.3
# leaves `podId` empty in container events, so the pod name must travel as a label).
POD_LABEL = "ozy.pod"
CONTAINER_LABEL = "ozy.container"

# Docker's default capabilities less NET_RAW (raw sockets: spoofed packets and
# ARP tricks on the pod network), MKNOD (the device cgroup refuses most devices
# anyway) and AUDIT_WRITE (only login-like programs write audit records): the
# set podman 4 grants by default, so images behave as under a plain `podman run`.
# Every other capability is dropped.
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)
LOG_SIZE = 10 * 1024**2
"""Bytes of a container's log file after which conmon starts it afresh."""


@dataclass(frozen=True)
class BridgeNetwork:
    """A podman network: its name, its bridge interface on the host, its IPv4 subnets."""

    name: str
    interface: str
    subnets: tuple[str, ...]


@dataclass(frozen=True)
class Mount:
    """A host directory or file bind-mounted into a container."""

    source: str
    """The host directory (a volume's mountpoint or directory) or file (a secret's)."""
    destination: str
    """The absolute path inside the container."""
    read_only: bool = False


@dataclass(frozen=True)
class ContainerPlan:
    """One container of a pod, as the job spec describes it."""

    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    memory: int
    """Hard memory limit in bytes; swap is limited to the same total, so no swap is used."""
    mounts: list[Mount] = field(default_factory=list)
    cpus: float | None = None
    """CPU limit in cores, enforced as a CFS quota of `cpus` periods; None means no quota."""
    pids: int = 2048
    """Most processes and threads at once (the pids cgroup), so a fork bomb stays inside."""
    entrypoint: list[str] | None = None
    """Replaces the image's entrypoint; None keeps it."""
    working_dir: str | None = None
    stop_signal: str | None = None
    """A signal's name (SIGQUIT) or number; None keeps the image's, or SIGTERM."""
    stop_timeout: int = 5
    """Seconds between the stop signal and SIGKILL when the container is stopped."""
    user: str | None = None
    """The user[:group] the process runs as (never root: the spec refuses it); None keeps
    the image's."""
    init: bool = False
    """Run podman's init (catatonit) as PID 1, which reaps zombies and forwards signals."""
    tmpfs: tuple[str, ...] = ()
    """Paths mounted as a fresh tmpfs each start."""
    # The hardening below is the same for every container; it is part of the
    # plan so that what a container may do is stated in one place.
    capabilities: tuple[str, ...] = CAPABILITIES
    """The only capabilities the container has; every other one is dropped."""
    no_new_privileges: bool = True
    """Setuid binaries and file capabilities can't raise a process's privileges."""
    log_size: int = LOG_SIZE
    """Bytes of output kept: the log file is started afresh when it reaches this size."""


@dataclass(frozen=True)
class PodPlan:
    """Everything needed to create and start one instance of a job."""

    pod_name: str
    labels: dict[str, str]
    """Applied to the pod and to every container (plus `ozy.pod` and `ozy.container`)."""
    network: str | None
    """A podman network to join; None means podman's default network."""
    hostname: str
    start_waves: list[list[ContainerPlan]]
    """Wave k starts once every container of wave k-1 has started; a wave starts concurrently."""
    dns_servers: list[str] | None = None
    dns_search: list[str] = field(default_factory=list)
    """Domains the pod's resolver appends to a short name (`api` → api.shop.cluster.local)."""


@dataclass(frozen=True)
class ContainerInfo:
    id: str
    name: str
    """The spec's container name (from the `ozy.container` label), not podman's name."""
    state: str
    """Podman's state: "created", "running", "exited", "stopped", "paused", ..."""
    exit_code: int | None
    """Set once the container has run and stopped."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PodInfo:
    name: str
    labels: dict[str, str]
    ip: str
    """The pod's address on its network, "" when it has none (e.g. not started)."""
    containers: list[ContainerInfo]
    """The pod's own containers; podman's infra container is left out."""


@dataclass(frozen=True)
class ContainerExit:
    container_id: str
    pod_name: str
    container_name: str
    exit_code: int
    labels: dict[str, str]
    oom_killed: bool
    """The kernel's OOM killer killed a process of the container since it last started,
    as the kernel's log says (podman 4.3 on cgroup v1 never sets State.OOMKilled)."""


@dataclass(frozen=True)
class LogEntry:
    """One frame of a container's output: a line, or a part of a long one."""

    time: datetime
    """When conmon wrote it, to the second: podman's API gives no finer time."""
    data: bytes


@dataclass(frozen=True)
class ContainerRun:
    """One run of a container, from podman's events: each restart starts one."""

    started: datetime
    ended: datetime | None
    """When it died; None while it runs."""


@dataclass(frozen=True)
class StreamConnected:
    """Yielded by `container_exits` each time the event stream is (re)connected.

    Exits that happened before it (before the first connection, or while the
    stream was broken) are not replayed: call `list_pods` when you receive it.
    An exit close to the marker may be seen both in that listing and in the stream.
    """


@dataclass(frozen=True)
class ExecOutput:
    """Output of a command run with `exec_stream`, as podman sent it."""

    stream: str
    """"stdout" or "stderr"."""
    data: bytes


@dataclass(frozen=True)
class ExecExit:
    """The end of a command run with `exec_stream`."""

    exit_code: int


class PodmanError(RuntimeError):
    """Podman answered a request with an error."""

    def __init__(self, status: int, message: str, cause: str = "") -> None:
        super().__init__(f"podman: {message} (HTTP {status})")
        self.status = status
        self.cause = cause
        """Podman's short error kind, e.g. "image not known", "no such container"."""


class ContainerNotFound(PodmanError):
    """The container (or its exec session) does not exist (any more)."""


class ImageNotFound(RuntimeError):
    """An image is not present locally and could not be pulled."""


class RuntimeUnavailable(RuntimeError):
    """The podman service can't be started or reached."""


class ImagePullFailed(ImageNotFound):
    """A pull of an image failed; `reason` says so in a few words (runtime/pull_reasons.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RegistryAccess:
    """What a pull from one registry is given: a login, and the CA its certificate is from.

    `repr` leaves the password out, so a logged access never shows it.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_pem: str | None = None
    """The registry's CA (PEM), for a registry whose certificate no system CA signed."""
