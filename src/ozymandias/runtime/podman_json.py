"""Podman's JSON and the runtime's models, translated both ways: pure functions.

Request bodies are built from plans (`pod_spec`, `container_spec`, the label
filters) and models are read from podman's answers (`container_info`,
`pod_infos`, `ip_address`), from lines of its event stream and log
(`container_exit`, `container_runs`) and from its timestamped log frames
(`log_entry`). Nothing here does I/O, so each can be tested from a table
of JSON.
"""

from __future__ import annotations

import json
import signal
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ozymandias.runtime.models import (
    CONTAINER_LABEL,
    POD_LABEL,
    ContainerExit,
    ContainerInfo,
    ContainerPlan,
    ContainerRun,
    LogEntry,
    PodInfo,
    PodPlan,
)

Json = dict[str, Any]

# The kernel's default CFS period (100 ms), as docker's and podman's `--cpus` use.
_CFS_PERIOD = 100_000
# Event attributes that are not container labels.
_EVENT_ATTRIBUTES = frozenset({"containerExitCode", "image", "name", "podId"})


def label_filters(labels: dict[str, str]) -> dict[str, list[str]]:
    """The `filters` entry that selects what carries one of the labels (podman ORs them)."""
    return {"label": [f"{key}={value}" for key, value in labels.items()]} if labels else {}


def pod_spec(plan: PodPlan) -> Json:
    """The body of a pod creation."""
    spec: Json = {
        "name": plan.pod_name,
        "hostname": plan.hostname,
        "labels": {**plan.labels, POD_LABEL: plan.pod_name},
    }
    if plan.network is not None:
        spec["Networks"] = {plan.network: {}}  # this field is capitalised in podman 4.3
    if plan.dns_servers is not None:
        spec["dns_server"] = plan.dns_servers
    if plan.dns_search:
        spec["dns_search"] = plan.dns_search
    return spec


def container_spec(plan: PodPlan, container: ContainerPlan) -> Json:
    """The body of the creation of one of the pod's containers."""
    spec: Json = {
        "name": f"{plan.pod_name}-{container.name}",
        "pod": plan.pod_name,
        "image": container.image,
        "env": container.environment,
        "labels": {**plan.labels, POD_LABEL: plan.pod_name, CONTAINER_LABEL: container.name},
        "resource_limits": _resource_limits(container),
        "cap_drop": ["ALL"],
        "cap_add": list(container.capabilities),
        "no_new_privileges": container.no_new_privileges,
        # conmon enforces the size only for the k8s-file driver (journald ignores
        # it), so the driver is set too, whatever the host's containers.conf says.
        "log_configuration": {"driver": "k8s-file", "size": container.log_size},
    }
    if container.command is not None:
        spec["command"] = container.command
    spec.update(_process_options(container))
    mounts = [
        {
            "destination": mount.destination,
            "source": mount.source,
            "type": "bind",
            "options": ["rbind", "ro" if mount.read_only else "rw"],
        }
        for mount in container.mounts
    ] + _tmpfs_mounts(container)
    if mounts:
        spec["mounts"] = mounts
    return spec


def _process_options(container: ContainerPlan) -> Json:
    """The entrypoint, working dir, stop signal and timeout, user and init, where set."""
    # Podman stops the container with this grace whenever a stop names none.
    options: Json = {"stop_timeout": container.stop_timeout}
    if container.entrypoint is not None:
        options["entrypoint"] = container.entrypoint
    if container.working_dir is not None:
        options["work_dir"] = container.working_dir
    if container.stop_signal is not None:
        # podman's spec takes the signal's number.
        name = container.stop_signal
        options["stop_signal"] = int(name) if name.isdigit() else signal.Signals[name].value
    if container.user is not None:
        options["user"] = container.user
    if container.init:
        options["init"] = True
    return options


def _tmpfs_mounts(container: ContainerPlan) -> list[Json]:
    return [
        {
            "destination": path,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["rw", "nosuid", "nodev"],
        }
        for path in container.tmpfs
    ]


def _resource_limits(container: ContainerPlan) -> Json:
    limits: Json = {
        # OCI's swap limit is memory + swap: equal to the memory limit means no swap.
        "memory": {"limit": container.memory, "swap": container.memory},
        "pids": {"limit": container.pids},
    }
    if container.cpus is not None:
        # CPU time per period, summed over the CPUs: `cpus` periods is `cpus` cores.
        quota = round(container.cpus * _CFS_PERIOD)
        limits["cpu"] = {"period": _CFS_PERIOD, "quota": quota}
    return limits


def container_info(container: Json) -> ContainerInfo:
    """A container as the libpod container list reports it."""
    labels: dict[str, str] = container["Labels"] or {}
    state: str = container["State"]
    return ContainerInfo(
        id=container["Id"],
        name=labels.get(CONTAINER_LABEL, ""),
        state=state,
        exit_code=container["ExitCode"] if state in ("exited", "stopped") else None,
        started_at=_timestamp(container["StartedAt"]),
        finished_at=_timestamp(container["ExitedAt"]) if container["Exited"] else None,
        labels=labels,
    )


def pod_infos(
    pods: list[Json], containers: list[Json], compat_containers: list[Json]
) -> list[PodInfo]:
    """The pods, each with its containers (infra ones left out) and its infra's IP address.

    From the libpod pod list, the libpod container list (states, exit codes,
    pod names) and the docker-compatible container list (IP addresses).
    """
    ips = {container["Id"]: ip_address(container) for container in compat_containers}
    containers_of: defaultdict[str, list[ContainerInfo]] = defaultdict(list)
    for container in containers:
        if not container["IsInfra"]:
            containers_of[container["PodName"]].append(container_info(container))
    return [
        PodInfo(
            name=pod["Name"],
            labels=pod["Labels"] or {},
            ip=ips.get(pod["InfraId"], ""),
            containers=sorted(containers_of[pod["Name"]], key=lambda c: c.name),
        )
        for pod in pods
    ]


def running_containers(pod: Json) -> list[str]:
    """The ids of a pod's running containers, its infra container left out (pod inspect JSON)."""
    return [
        container["Id"]
        for container in pod["Containers"] or []
        if container["State"] == "running" and container["Id"] != pod["InfraContainerID"]
    ]


def _timestamp(unix_seconds: int) -> datetime | None:
    # Podman reports "never" as 0 or as Go's zero time (year 1).
    return datetime.fromtimestamp(unix_seconds, UTC) if unix_seconds > 0 else None


def ip_address(compat_container: Json) -> str:
    """A container's first IP address in the docker-compatible list, "" if it has none."""
    networks: Json = (compat_container.get("NetworkSettings") or {}).get("Networks") or {}
    for network in networks.values():
        if network.get("IPAddress"):
            address: str = network["IPAddress"]
            return address
    return ""


def container_exit(line: str, label_filter: dict[str, str]) -> ContainerExit | None:
    """The exit in one line of the event stream, None if it's not for the caller."""
    event = json.loads(line)
    attributes: dict[str, str] = event["Actor"]["Attributes"] or {}
    labels = {key: value for key, value in attributes.items() if key not in _EVENT_ATTRIBUTES}
    # Podman matches any of several label filters; the caller wants all of them.
    if any(labels.get(key) != value for key, value in label_filter.items()):
        return None
    if CONTAINER_LABEL not in labels or "containerExitCode" not in attributes:
        return None  # an infra container, or not one of ours
    exit_code = int(attributes["containerExitCode"])
    return ContainerExit(
        container_id=event["Actor"]["ID"],
        pod_name=labels.get(POD_LABEL, ""),
        container_name=labels[CONTAINER_LABEL],
        exit_code=exit_code,
        labels=labels,
        oom_killed=False,  # the event does not say: the runtime asks the kernel's log
    )


def log_entry(payload: bytes, previous: datetime) -> LogEntry:
    """One frame of a log read with `timestamps=true`: "<RFC3339 time> <output>".

    A frame without a readable time (none is expected) keeps the previous frame's.
    """
    stamp, _, data = payload.partition(b" ")
    try:
        time = datetime.fromisoformat(stamp.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return LogEntry(previous, payload)
    return LogEntry(time if time.tzinfo else time.replace(tzinfo=UTC), data)


def container_runs(event_lines: list[str]) -> list[ContainerRun]:
    """A container's runs, oldest first, from its "start" and "died" events in any order."""
    events = sorted(_event(line) for line in event_lines if line.strip())
    runs: list[ContainerRun] = []
    for time, status in events:
        if status == "start":
            runs.append(ContainerRun(time, None))
        elif status == "died" and runs and runs[-1].ended is None:
            runs[-1] = ContainerRun(runs[-1].started, time)
    return runs


def _event(line: str) -> tuple[datetime, str]:
    """When an event of podman's event log happened (its `timeNano`), and what it was."""
    event = json.loads(line)
    seconds, nanoseconds = divmod(int(event["timeNano"]), 1_000_000_000)
    time = datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=nanoseconds // 1000)
    return time, str(event["status"])
