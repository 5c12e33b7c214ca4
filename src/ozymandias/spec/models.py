"""The job spec: what a user submits, validated into immutable models.

The shape follows the design post, which is close to docker-compose on
purpose, so a few compose habits are accepted too (environment as a mapping
or "K=V" strings, `restart: "no"`, `depends_on` as a mapping, a command as
one string). Validation happens here, so the API and the CLI reject a bad
job with the same messages.
"""

import hashlib
import json
import math
import re
import signal as signal_module
from collections.abc import Iterable, Iterator, Mapping
from graphlib import CycleError, TopologicalSorter
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ozymandias.labels.annotations import (
    MAX_ANNOTATION_KEY_LENGTH,
    MAX_ANNOTATIONS,
    MAX_ANNOTATIONS_BYTES,
    annotations_problem,
)
from ozymandias.labels.syntax import MAX_JOB_LABELS, labels_problem
from ozymandias.spec.base import Problem, SpecModel, limits_of, problems_error, shown
from ozymandias.spec.durations import parse_duration
from ozymandias.spec.limits import LimitExceeded
from ozymandias.spec.process import Command, Environment
from ozymandias.spec.secret_refs import MAX_SECRET_REFS, SecretRef
from ozymandias.spec.sizes import format_size, parse_size
from ozymandias.spec.update import UpdatePolicy

# Bounds that follow from the formats, or are far beyond any real job, so
# that no part of a spec grows without limit. What a node may want to set
# lower is in `SpecLimits` instead.
DNS_LABEL_LENGTH = 63
HOSTNAME_LENGTH = 253
# Docker allows a 255-character repository name, then a tag and a digest.
IMAGE_LENGTH = 512
URL_PATH_LENGTH = 2048
PATH_LENGTH = 4096  # Linux's PATH_MAX
LABEL_LENGTH = 253  # a node label's key or value
MAX_PORTS = 100  # per container
MAX_VOLUMES = 32  # per container
MAX_DEPENDENCIES = 100  # per container
MAX_HOSTS = 100
MAX_TCP_INGRESS = 100
MAX_NODE_NAMES = 1_000  # in each of mayBeScheduledOn and cannotBeScheduledOn
MAX_NODE_SELECTOR = 100
MAX_MATCH_EXPRESSIONS = 100
MAX_MATCH_VALUES = 100
# A stop grace as long as Kubernetes' default termination grace (30s) tenfold:
# a node that stops waits this long at most for a container to exit.
MAX_STOP_GRACE_SECONDS = 300
DEFAULT_STOP_GRACE_SECONDS = 5
MAX_RESTART_RETRIES = 1_000
# Linux's user and group names (useradd's limit), or a numeric id.
USER_LENGTH = 32 * 2 + 1


def _check_dns_label(text: str) -> str:
    # Job and container names end up in DNS records and podman names.
    if not re.fullmatch(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", text):
        raise ValueError(
            f"'{shown(text)}' is not a DNS label: use 1-63 lowercase letters, digits and '-',"
            " starting with a letter and not ending with '-'"
        )
    return text


def _size(value: Any) -> Any:
    # bool is an int in Python, but `memory: true` is a mistake, not 1 byte.
    if isinstance(value, str | int) and not isinstance(value, bool):
        if isinstance(value, str):
            # Cut short, a longer text fails to parse and is quoted short: no size is that long.
            value = shown(value)
        return parse_size(value)
    raise ValueError(f"{shown(repr(value))} is not a size like 512M or 2G")


def _check_hostname(text: str) -> str:
    # What a client sends in the Host header: DNS labels joined by dots, no port.
    labels = text.split(".")
    if not all(re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels):
        raise ValueError(
            f"'{shown(text)}' is not a hostname: use DNS labels of lowercase letters, digits"
            " and '-', joined by '.'"
        )
    return text


def _lowercase(value: Any) -> Any:
    # Host headers are case-insensitive; routes are matched in lowercase.
    return value.lower() if isinstance(value, str) else value


def _check_mount_path(text: str) -> str:
    path = PurePosixPath(text)
    if not path.is_absolute() or ".." in path.parts or path == PurePosixPath("/"):
        raise ValueError(f"'{shown(text)}' must be an absolute path below '/' without '..'")
    return str(path)


def _check_volume_name(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", text):
        raise ValueError(
            f"'{shown(text)}' is not a volume name: use lowercase letters, digits and '-',"
            " starting and ending with a letter or digit"
        )
    return text


# Not bounded by a max_length: the check's message explains the 63 characters.
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]
Size = Annotated[int, BeforeValidator(_size)]
Seconds = Annotated[float, BeforeValidator(parse_duration)]
_SECONDS = TypeAdapter(Seconds)
DEFAULT_CHECK_TIMEOUT = 5.0
Port = Annotated[int, Field(ge=1, le=65535)]
MountPath = Annotated[str, Field(max_length=PATH_LENGTH), AfterValidator(_check_mount_path)]
Hostname = Annotated[
    str,
    Field(max_length=HOSTNAME_LENGTH),
    BeforeValidator(_lowercase),
    AfterValidator(_check_hostname),
]
VolumeName = Annotated[str, Field(max_length=DNS_LABEL_LENGTH), AfterValidator(_check_volume_name)]
LabelText = Annotated[str, Field(max_length=LABEL_LENGTH)]
NodeName = Annotated[str, Field(max_length=DNS_LABEL_LENGTH)]


def _restart_policy(value: Any) -> Any:
    # Compose spells "never" as "no", and unquoted `no` is YAML 1.1's false.
    return "never" if value is False or value == "no" else value


def _signal_name(value: Any) -> Any:
    # The names podman knows (SIGTERM, TERM, SIGRTMIN+3) and plain numbers, as compose takes.
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64:
        return str(value)
    if isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") or name.isdigit() else f"SIG{name}"
        if name in _SIGNALS or (name.isdigit() and 1 <= int(name) <= 64):
            return name
    raise ValueError(f"{shown(repr(value))} is not a signal like SIGTERM, SIGQUIT or 15")


_SIGNALS = frozenset(signal.name for signal in signal_module.Signals)


_USER_PART = r"(?:[0-9]+|[a-z_][a-z0-9_.-]{0,31})"


def _user_id(value: Any) -> Any:
    # YAML reads `user: 1000` as a number; a uid is written the same either way.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check_user(text: str) -> str:
    # The user (and group) the container's process runs as. Root is refused,
    # by name or id, for the user and the group alike: a spec may only narrow
    # what a container may do (issue #14), never choose root over an image's user.
    if not re.fullmatch(f"{_USER_PART}(?::{_USER_PART})?", text):
        raise ValueError(
            f"'{shown(text)}' is not a user: write a name or uid, optionally with"
            " ':' and a group name or gid, like 1000, 1000:1000 or app:app"
        )
    for part in text.split(":"):
        if part == "root" or (part.isdigit() and int(part) == 0):
            raise ValueError(
                f"'{shown(text)}' runs as root: a container's user may not be root"
                " (name or id 0), for the user nor the group"
            )
    return text


def _dependency_names(value: Any) -> Any:
    # Compose's long form maps names to conditions; only the names matter here.
    return list(value) if isinstance(value, dict) else value


class PortMapping(SpecModel):
    """A container port, published on the cluster network under `cluster_port`."""

    cluster_port: Port
    container_port: Port
    protocol: Literal["tcp", "udp"] = "tcp"

    @model_validator(mode="before")
    @classmethod
    def _from_short_syntax(cls, value: Any) -> Any:
        """Read compose's "80:3000", "3000" or "53:53/udp", or a bare port number."""
        if isinstance(value, int) and not isinstance(value, bool):
            return {"cluster_port": value, "container_port": value}
        if not isinstance(value, str):
            return value
        match = re.fullmatch(r"(?:(\d+):)?(\d+)(?:/(tcp|udp))?", value.strip())
        if not match:
            raise ValueError(f"'{shown(value)}' is not a port mapping like 80:3000, 3000 or 53/udp")
        cluster, container, protocol = match.groups()
        return {
            "cluster_port": int(cluster or container),
            "container_port": int(container),
            "protocol": protocol or "tcp",
        }


class HealthCheck(SpecModel):
    """How to tell whether a container is healthy; times are in seconds."""

    type: Literal["http", "tcp", "exec"]
    port: Port | None = None
    path: str = Field(
        "/", max_length=URL_PATH_LENGTH, description="URL path an http check requests"
    )
    command: Command = None
    timeout: Seconds = Field(
        DEFAULT_CHECK_TIMEOUT, gt=0, description="default: 5s, or the interval if shorter"
    )
    interval: Seconds = Field(10.0, gt=0)
    # One success is enough to start sending traffic, but one slow response
    # should not pull an instance out of DNS and restart it: three failures,
    # as Docker's default retries, before declaring it unhealthy.
    healthy_threshold: int = Field(1, ge=1)
    unhealthy_threshold: int = Field(3, ge=1)
    # Failures in the first few seconds, while the process is still binding
    # its port, do not count; successes do, so a fast start is seen at once.
    start_period: Seconds = Field(5.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _default_timeout_within_interval(cls, data: Any) -> Any:
        # A user who writes only `interval: 2` must not be told that a timeout
        # they never wrote exceeds it: the default timeout fits the interval.
        if not isinstance(data, dict) or "timeout" in data or "interval" not in data:
            return data
        try:
            interval = _SECONDS.validate_python(data["interval"])
        except ValidationError:
            return data  # the interval's own error is reported
        return {**data, "timeout": min(DEFAULT_CHECK_TIMEOUT, interval)}

    @model_validator(mode="after")
    def _check_type_needs(self) -> Self:
        problems: list[Problem] = []
        if self.type in ("http", "tcp") and self.port is None:
            problems.append((("port",), f"{self.type} healthchecks need a port"))
        if self.type == "exec" and not self.command:
            problems.append((("command",), "exec healthchecks need a command"))
        if self.timeout > self.interval:
            problems.append(
                (
                    ("timeout",),
                    f"timeout ({self.timeout:g}s) must not exceed interval ({self.interval:g}s)",
                )
            )
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self


# A local volume is an ext4 filesystem of its size, and mkfs needs some room.
MIN_VOLUME_SPACE = 1024**2


def _check_volume_space(space: int) -> int:
    if space < MIN_VOLUME_SPACE:
        raise ValueError(f"a volume needs at least 1M, got {format_size(space)}")
    return space


def _volume_name_from_path(data: dict[str, Any]) -> str:
    # "/data/shared" -> "data-shared"; `path` is absent only if it was invalid,
    # in which case validation fails anyway and this name is never used.
    return re.sub(r"[^a-z0-9]+", "-", str(data.get("path", "")).lower()).strip("-")


class VolumeSpec(SpecModel):
    """Disk space mounted into a container.

    A local volume belongs to one pod instance and is lost with it; a shared
    volume is named per job and `name`, so every instance sees the same data.
    """

    type: Literal["local", "shared"]
    path: MountPath
    space: Annotated[int, BeforeValidator(_size), AfterValidator(_check_volume_space)] = Field(
        description="bytes, written like 100M; at least 1M"
    )
    name: VolumeName = Field(
        default_factory=_volume_name_from_path,
        description="defaults to the path with '/' as '-', e.g. data-shared for /data/shared",
    )


class ContainerSpec(SpecModel):
    """One container of a pod; the containers of a pod share a network namespace."""

    image: str = Field(min_length=1, max_length=IMAGE_LENGTH)
    restart: Annotated[
        Literal["always", "on-failure", "never", "unless-stopped"],
        BeforeValidator(_restart_policy),
    ] = Field("always", description="as compose's; on-failure:N sets max_retries to N")
    max_retries: int | None = Field(
        None,
        ge=0,
        le=MAX_RESTART_RETRIES,
        description="with restart on-failure: the container is restarted at most this many"
        " times, then stays exited; unset means no limit",
    )
    command: Command = None
    environment: Environment = Field(default_factory=dict)
    ports: list[PortMapping] = Field(default_factory=list, max_length=MAX_PORTS)
    depends_on: Annotated[
        list[Annotated[str, Field(max_length=DNS_LABEL_LENGTH)]], BeforeValidator(_dependency_names)
    ] = Field(default_factory=list, max_length=MAX_DEPENDENCIES)
    memory: Size = Field(
        256 * 1024**2,
        description="hard RAM limit in bytes, written like 512M or 2G; defaults to 256M",
    )
    cpus: float | None = Field(
        None,
        # podman refuses a CFS quota under 1 ms of each 100 ms period.
        ge=0.01,
        le=1024,
        description="CPU limit in cores, as in docker-compose (0.5 is half a core); "
        "enforced with a CFS quota, and counted against the node's cores in placement. "
        "Without it, the container has no quota and counts no CPU",
    )
    pids: int = Field(
        2048,
        ge=16,
        le=1_000_000,
        description="most processes and threads the container may run; "
        "bounds a fork bomb to its own container",
    )
    pull: Literal["always", "missing", "never"] | None = Field(
        None,
        description="when the node pulls the image: always (before every start), missing "
        "(only when not present) or never; defaults to always for an untagged or :latest "
        "image and missing otherwise, as Kubernetes' imagePullPolicy",
    )
    healthcheck: HealthCheck | None = None
    volumes: list[VolumeSpec] = Field(default_factory=list, max_length=MAX_VOLUMES)
    entrypoint: Command = Field(None, description="replaces the image's entrypoint")
    working_dir: MountPath | None = Field(None, description="replaces the image's working dir")
    stop_signal: Annotated[str, BeforeValidator(_signal_name)] | None = Field(
        None, description="the signal that stops the container (default: the image's, or TERM)"
    )
    stop_grace_period: Seconds = Field(
        float(DEFAULT_STOP_GRACE_SECONDS),
        ge=0,
        le=MAX_STOP_GRACE_SECONDS,
        description="how long the container has to exit after its stop signal before it is"
        " killed, like 30s; at most 5m, rounded up to whole seconds; defaults to 5s",
    )
    user: Annotated[
        str, Field(max_length=USER_LENGTH), BeforeValidator(_user_id), AfterValidator(_check_user)
    ] | None = (
        Field(
            None,
            description="the user, and optionally group, to run as: 1000, 1000:1000, app or"
            " app:app (default: the image's); never root",
        )
    )
    init: bool = Field(False, description="run a tiny init (catatonit) as PID 1 to reap zombies")
    tmpfs: list[MountPath] = Field(
        default_factory=list, max_length=MAX_VOLUMES, description="paths mounted as a tmpfs"
    )
    secrets: list[SecretRef] = Field(
        default_factory=list,
        max_length=MAX_SECRET_REFS,
        description="values of secrets (`ozy secret set`), as variables or files",
    )

    @model_validator(mode="before")
    @classmethod
    def _restart_retries_shorthand(cls, data: Any) -> Any:
        # Compose's `restart: on-failure:3` is the policy and its retries in one.
        restart = data.get("restart") if isinstance(data, dict) else None
        match = re.fullmatch(r"on-failure:(\d{1,9})", restart) if isinstance(restart, str) else None
        if match is None or "max_retries" in data:
            return data
        return {**data, "restart": "on-failure", "max_retries": int(match.group(1))}

    @model_validator(mode="after")
    def _retries_need_on_failure(self) -> Self:
        if self.max_retries is not None and self.restart != "on-failure":
            message = f"max_retries applies to restart on-failure only, not to {self.restart}"
            raise problems_error(type(self).__name__, [(("max_retries",), message)])
        return self

    @field_validator("environment", mode="before")
    @classmethod
    def _check_environment_entries(cls, value: Any, info: ValidationInfo) -> Any:
        # Counted before the entries are validated, so a huge one is refused cheaply.
        limits = limits_of(info)
        if (
            limits is not None
            and isinstance(value, dict | list)
            and (message := limits.env_entries_problem(len(value)))
        ):
            raise LimitExceeded(message, "max-env-entries")
        return value

    @field_validator("environment")
    @classmethod
    def _check_environment_bytes(
        cls, environment: dict[str, str], info: ValidationInfo
    ) -> dict[str, str]:
        limits = limits_of(info)
        size = sum(len(name.encode()) + len(value.encode()) for name, value in environment.items())
        if limits is not None and (message := limits.env_bytes_problem(size)):
            raise LimitExceeded(message, "max-env-size")
        return environment

    @field_validator("volumes")
    @classmethod
    def _check_distinct_mount_paths(cls, volumes: list[VolumeSpec]) -> list[VolumeSpec]:
        first_at: dict[str, int] = {}
        problems: list[Problem] = []
        for index, volume in enumerate(volumes):
            if volume.path in first_at:
                problems.append(
                    (
                        (index, "path"),
                        f"{volume.path} is already mounted by volume {first_at[volume.path]}",
                    )
                )
            first_at.setdefault(volume.path, index)
        if problems:
            raise problems_error("volumes", problems)
        return volumes

    @model_validator(mode="after")
    def _check_secret_targets(self) -> Self:
        # A secret's variable or file must be the only one of its name: a
        # plain value, or a volume, silently shadowing it would be a surprise.
        problems: list[Problem] = []
        envs: set[str] = set()
        paths = {volume.path for volume in self.volumes}
        for index, ref in enumerate(self.secrets):
            if ref.env is not None:
                if ref.env in self.environment or ref.env in envs:
                    problems.append((("secrets", index, "env"), f"{ref.env} is set more than once"))
                envs.add(ref.env)
            elif ref.path is not None:
                if ref.path in paths:
                    problems.append(
                        (("secrets", index, "path"), f"{ref.path} is mounted more than once")
                    )
                paths.add(ref.path)
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self


class TcpIngress(SpecModel):
    """A TCP port opened on every node, forwarding to the job's healthy instances."""

    port: Port = Field(description="the port every node listens on")
    target_port: Port = Field(
        alias="targetPort", description="a cluster port the job declares (tcp)"
    )


class IngressSpec(SpecModel):
    """How the job is reached from outside through every node's ingress.

    Every job with a tcp port is reachable over HTTP as <job>.localhost;
    `hosts` adds names, `port` picks the cluster port (default: the first
    declared tcp port), and `tcp` opens raw TCP ports.
    """

    hosts: list[Hostname] = Field(default_factory=list, max_length=MAX_HOSTS)
    port: Port | None = None
    tcp: list[TcpIngress] = Field(default_factory=list, max_length=MAX_TCP_INGRESS)


class SchedulingConstraints(SpecModel):
    """Which nodes, by name, a job's pods may run on."""

    may_be_scheduled_on: Annotated[list[NodeName], Field(max_length=MAX_NODE_NAMES)] | None = Field(
        None, alias="mayBeScheduledOn", description="node names; unset means any node"
    )
    cannot_be_scheduled_on: list[NodeName] = Field(
        default_factory=list, alias="cannotBeScheduledOn", max_length=MAX_NODE_NAMES
    )


class MatchExpression(SpecModel):
    """A Kubernetes-style test of one node label."""

    key: LabelText
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelText] = Field(default_factory=list, max_length=MAX_MATCH_VALUES)

    @model_validator(mode="after")
    def _check_values_fit_operator(self) -> Self:
        compares_values = self.operator in ("In", "NotIn")
        if compares_values and not self.values:
            message = f"operator {self.operator} needs at least one value"
        elif not compares_values and self.values:
            message = f"operator {self.operator} takes no values"
        else:
            return self
        raise problems_error(type(self).__name__, [(("values",), message)])


def _dependency_waves(dependencies: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Group names so each group depends only on earlier groups; raises CycleError."""
    sorter = TopologicalSorter(dependencies)
    sorter.prepare()
    waves: list[list[str]] = []
    while sorter.is_active():
        wave = sorted(sorter.get_ready())
        sorter.done(*wave)
        waves.append(wave)
    return waves


JobType = Literal["service", "system"]

_NO_INSTANCE_COUNT = (
    "a system job runs one instance on every eligible node: numInstances does not apply"
)


MAX_DNS_SEARCH = 6  # glibc's resolver reads at most six search domains
MAX_JOB_DEPENDENCIES = 100


class JobDependency(SpecModel):
    """Another job whose instances must reach `condition` before this job's start."""

    job: DnsLabel
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = (
        Field("service_started", description="as compose's depends_on conditions")
    )


class JobSpec(SpecModel):
    """A job: a pod of containers, run as `num_instances` identical instances (a service
    job), or as one instance on every node that may run it (a system job)."""

    name: DnsLabel
    type: JobType = Field("service", description="system: one instance on every eligible node")
    # For people and `-l` selectors only: no pod sees them (see `pod_fingerprint`).
    labels: dict[LabelText, LabelText] = Field(default_factory=dict, max_length=MAX_JOB_LABELS)
    # Notes for tools (kubectl's last-applied configuration), not selectors; no pod sees them.
    annotations: dict[
        Annotated[str, Field(max_length=MAX_ANNOTATION_KEY_LENGTH)],
        Annotated[str, Field(max_length=MAX_ANNOTATIONS_BYTES)],
    ] = Field(
        default_factory=dict,
        max_length=MAX_ANNOTATIONS,
        description="notes for tools, as a Kubernetes object's annotations (kubectl apply keeps"
        " its last-applied configuration here); keys as label keys, at most 64 entries and"
        " 256 KiB in all; changing them never restarts a pod",
    )
    num_instances: int = Field(1, ge=0, alias="numInstances")
    # Who gives way when the cluster is full (scheduling/preemption.py); no pod sees it.
    priority: int = Field(50, ge=0, le=100)
    # Whether `ozy rebalance` may move instances with local volumes, which start empty on
    # their new node (deployments/rebalance.py); no pod sees it.
    rebalance: bool = Field(
        False,
        description="let a rebalance move instances with local volumes (they start empty)",
    )
    containers: dict[DnsLabel, ContainerSpec]
    scheduling_constraints: SchedulingConstraints | None = Field(
        None, alias="schedulingConstraints"
    )
    node_selector: dict[LabelText, LabelText] = Field(
        default_factory=dict, alias="nodeSelector", max_length=MAX_NODE_SELECTOR
    )
    affinity: list[MatchExpression] = Field(default_factory=list, max_length=MAX_MATCH_EXPRESSIONS)
    ingress: IngressSpec | None = None
    update: UpdatePolicy = Field(default_factory=UpdatePolicy)
    dns_search: list[DnsLabel] = Field(
        default_factory=list,
        alias="dnsSearch",
        max_length=MAX_DNS_SEARCH,
        description="subdomains of the cluster domain the pods' resolver searches: with"
        " [shop], `api` is looked up as api.shop.cluster.local (`ozy compose up` uses it)",
    )
    depends_on: list[JobDependency] = Field(
        default_factory=list,
        alias="dependsOn",
        max_length=MAX_JOB_DEPENDENCIES,
        description="jobs whose instances must be started, healthy or completed first;"
        " until then this job's instances wait",
    )

    @model_validator(mode="before")
    @classmethod
    def _system_has_no_count(cls, data: Any, info: ValidationInfo) -> Any:
        # A system job's count is its eligible nodes': it is stored as 0, and a
        # submitted one may not say any (a stored one, read without limits, says 0).
        if not isinstance(data, dict) or data.get("type") != "system":
            return data
        given = [key for key in ("numInstances", "num_instances") if key in data]
        if given and limits_of(info) is not None:
            raise problems_error(cls.__name__, [((given[0],), _NO_INSTANCE_COUNT)])
        return {**data, "numInstances": 0} if not given else data

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        problem = labels_problem(labels)
        if problem:
            raise ValueError(problem)
        return labels

    @field_validator("annotations")
    @classmethod
    def _check_annotations(cls, annotations: dict[str, str]) -> dict[str, str]:
        problem = annotations_problem(annotations)
        if problem:
            raise ValueError(problem)
        return annotations

    @field_validator("num_instances")
    @classmethod
    def _check_instance_limit(cls, count: int, info: ValidationInfo) -> int:
        limits = limits_of(info)
        if limits is not None and (message := limits.instances_problem(count)):
            raise LimitExceeded(message, "max-instances")
        return count

    @field_validator("containers", mode="before")
    @classmethod
    def _check_container_limit(cls, value: Any, info: ValidationInfo) -> Any:
        # Counted before the containers are validated, so a huge pod is refused cheaply.
        limits = limits_of(info)
        if (
            limits is not None
            and isinstance(value, dict)
            and (message := limits.containers_problem(len(value)))
        ):
            raise LimitExceeded(message, "max-containers")
        return value

    @field_validator("containers")
    @classmethod
    def _require_a_container(cls, containers: dict[str, ContainerSpec]) -> dict[str, ContainerSpec]:
        if not containers:
            raise ValueError("a job needs at least one container")
        return containers

    @model_validator(mode="after")
    def _check_containers_fit_together(self) -> Self:
        problems = [
            *self._unknown_dependencies(),
            *self._port_clashes(),
            *self._ingress_problems(),
            *self._volume_disagreements(),
            *self._system_problems(),
        ]
        if not problems:
            try:
                _dependency_waves(self._dependencies())
            except CycleError as error:
                cycle = " -> ".join(error.args[1])
                problems.append((("containers",), f"depends_on has a cycle: {cycle}"))
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self

    def _dependencies(self) -> dict[str, list[str]]:
        return {name: container.depends_on for name, container in self.containers.items()}

    def _unknown_dependencies(self) -> Iterator[Problem]:
        for name, container in self.containers.items():
            for dependency in container.depends_on:
                if dependency not in self.containers:
                    yield (
                        ("containers", name, "depends_on"),
                        f"'{dependency}' is not a container of this job"
                        f" (it has: {', '.join(self.containers)})",
                    )

    def _port_clashes(self) -> Iterator[Problem]:
        # The containers of a pod share one network namespace, so two cannot
        # listen on one port; nor can two claim one port on the cluster network.
        owners: dict[tuple[str, int, str], str] = {}
        for name, container in self.containers.items():
            for index, port in enumerate(container.ports):
                sides = (("container", port.container_port), ("cluster", port.cluster_port))
                for side, number in sides:
                    key = (side, number, port.protocol)
                    if key in owners:
                        yield (
                            ("containers", name, "ports", index),
                            f"{side} port {number}/{port.protocol}"
                            f" is already used by container '{owners[key]}'",
                        )
                    owners.setdefault(key, name)

    def _ingress_problems(self) -> Iterator[Problem]:
        if self.ingress is None:
            return
        declared = self._tcp_cluster_ports()
        listing = ", ".join(map(str, declared)) or "none"
        if self.ingress.port is not None and self.ingress.port not in declared:
            yield (
                ("ingress", "port"),
                f"port {self.ingress.port} is not a tcp cluster port of this job"
                f" (it declares: {listing})",
            )
        seen_hosts: set[str] = set()
        for index, host in enumerate(self.ingress.hosts):
            if host in seen_hosts:
                yield (("ingress", "hosts", index), f"'{host}' is listed more than once")
            seen_hosts.add(host)
        seen_ports: set[int] = set()
        for index, tcp in enumerate(self.ingress.tcp):
            if tcp.target_port not in declared:
                yield (
                    ("ingress", "tcp", index, "targetPort"),
                    f"port {tcp.target_port} is not a tcp cluster port of this job"
                    f" (it declares: {listing})",
                )
            if tcp.port in seen_ports:
                yield (("ingress", "tcp", index, "port"), f"port {tcp.port} is listed twice")
            seen_ports.add(tcp.port)

    def _volume_disagreements(self) -> Iterator[Problem]:
        # Containers that name the same volume share it, so they must agree on what it is.
        first: dict[str, tuple[str, VolumeSpec]] = {}
        for container_name, container in self.containers.items():
            for index, volume in enumerate(container.volumes):
                if volume.name not in first:
                    first[volume.name] = (container_name, volume)
                    continue
                owner, seen = first[volume.name]
                if (seen.type, seen.space) != (volume.type, volume.space):
                    yield (
                        ("containers", container_name, "volumes", index),
                        f"volume '{volume.name}' is also mounted by container '{owner}' as"
                        f" {seen.type} with space {seen.space}: containers sharing a volume"
                        " must agree on its type and space",
                    )

    def _system_problems(self) -> Iterator[Problem]:
        if self.type != "system":
            return
        for name, container in self.containers.items():
            for index, volume in enumerate(container.volumes):
                if volume.type == "shared":
                    yield (
                        ("containers", name, "volumes", index),
                        f"volume '{volume.name}' is shared: a system job runs on every node,"
                        " across storage domains, so it can mount local volumes only",
                    )

    @property
    def is_system(self) -> bool:
        return self.type == "system"

    def _tcp_cluster_ports(self) -> list[int]:
        return [
            port.cluster_port
            for container in self.containers.values()
            for port in container.ports
            if port.protocol == "tcp"
        ]

    @property
    def http_ingress_port(self) -> int | None:
        """The cluster port HTTP ingress sends to: the chosen one, else the first tcp port."""
        if self.ingress is not None and self.ingress.port is not None:
            return self.ingress.port
        return next(iter(self._tcp_cluster_ports()), None)

    @property
    def pod_memory(self) -> int:
        """Bytes of RAM one instance needs."""
        return sum(container.memory for container in self.containers.values())

    @property
    def pod_cpu(self) -> int:
        """Millicores of CPU one instance needs: its containers' `cpus`, rounded up.

        A container without `cpus` has no quota and counts as none, as a
        Kubernetes container without a request does.
        """
        return sum(
            math.ceil(round(container.cpus * 1000, 6))
            for container in self.containers.values()
            if container.cpus is not None
        )

    def _volumes_of_type(self, kind: str) -> dict[str, int]:
        return {
            volume.name: volume.space
            for container in self.containers.values()
            for volume in container.volumes
            if volume.type == kind
        }

    @property
    def local_volumes(self) -> dict[str, int]:
        """Each local volume of one instance, by name: its space in bytes.

        Containers of a pod that name the same volume share it, so it counts once.
        """
        return self._volumes_of_type("local")

    @property
    def shared_volumes(self) -> dict[str, int]:
        """Each volume the job's instances share, by name: its space in bytes."""
        return self._volumes_of_type("shared")

    @property
    def pod_disk(self) -> int:
        """Bytes of node disk one instance takes: its local volumes.

        Shared volumes live on the zone's shared storage, not on the node, and
        are counted there, once per job.
        """
        return sum(self.local_volumes.values())

    @property
    def secret_refs(self) -> set[tuple[str, str]]:
        """Every (secret, key) the job's containers use."""
        return {
            (ref.secret, ref.key)
            for container in self.containers.values()
            for ref in container.secrets
        }

    @property
    def start_order(self) -> list[list[str]]:
        """Containers in the waves to start them in, each wave after those it depends on."""
        return _dependency_waves(self._dependencies())

    def pod_fingerprint(self) -> str:
        """A short hash of everything that shapes a pod, to tell when pods must be recreated.

        `num_instances` is left out: scaling adds or removes pods but leaves
        the existing ones as they are; so are `ingress`, which only the
        nodes' proxies read, `update`, which only says how pods are replaced,
        `labels` and `annotations`, which only people, selectors and tools
        read, `priority` and `rebalance`, which only the scheduler reads, and
        `depends_on`, which only holds back a start.
        """
        shape = self.model_dump(
            mode="json",
            exclude={
                "num_instances",
                "ingress",
                "update",
                "labels",
                "annotations",
                "priority",
                "rebalance",
                "depends_on",
            },
        )
        canonical = json.dumps(shape, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
