"""What the agent knows about the pods it runs: plain state, shared by its hooks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ozymandias.agent.local_plan import InstanceKey, LocalPod
from ozymandias.agent.pod_plan import LABEL_NODE
from ozymandias.agent.restart_policy import RestartPolicy
from ozymandias.cluster.records import Health, InstanceState
from ozymandias.health.monitor import HealthMonitor
from ozymandias.health.state import pod_health
from ozymandias.runtime.models import ContainerExit
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_mirrors import ClusterMirrors

# An unhealthy container is restarted as if it had failed: policies that
# restart on failure (always, on-failure, unless-stopped) restart it.
UNHEALTHY_EXIT_CODE = 1


@dataclass
class ContainerTrack:
    """What the agent knows about one container of a pod it runs."""

    name: str
    container_id: str
    running: bool = True
    exit_code: int | None = None
    restarts: int = 0
    crash_streak: int = 0
    started_at: float = field(default_factory=time.monotonic)
    restart_timer: asyncio.Task[None] | None = None
    restart_at: float | None = None
    """When the pending restart is due (wall clock), reported so a restarted daemon keeps it."""
    monitor: HealthMonitor | None = None
    """Runs the container's healthcheck, if it has one."""
    stopped_as_unhealthy: bool = False

    def health(self) -> Health:
        """From its checks while it runs (healthy without any); else restarting, done or down."""
        if self.running:
            return self.monitor.state.health if self.monitor else Health.HEALTHY
        if self.restart_timer is not None:
            return Health.STARTING
        # A one-shot that did its work is not a fault: its pod is judged by the others.
        return Health.HEALTHY if self.completed else Health.UNHEALTHY

    @property
    def completed(self) -> bool:
        """Exited 0 and not to be restarted (`restart: never` or `on-failure`)."""
        return not self.running and self.restart_timer is None and self.exit_code == 0


@dataclass
class PodTrack:
    """A pod this node runs, and the state it reports for it."""

    pod: LocalPod
    ip: str
    containers: dict[str, ContainerTrack]
    reason: str = ""
    healthy_since: float = 0.0
    """When its health last became healthy (wall clock, for deployments' min_healthy_time)."""

    @property
    def restarts(self) -> int:
        return sum(container.restarts for container in self.containers.values())

    @property
    def pod_id(self) -> str:
        """The pod's identity: a container restarted in place keeps its id, a new pod has new
        ones, and an adopted pod (the daemon restarted) the same ones."""
        return min((c.container_id for c in self.containers.values()), default="")

    def state(self) -> InstanceState:
        containers = self.containers.values()
        if all(container.running for container in containers):
            return InstanceState.RUNNING
        if any(container.restart_timer is not None for container in containers):
            return InstanceState.STARTING
        if not all(container.running or container.completed for container in containers):
            return InstanceState.FAILED
        # Some one-shots are done: the pod runs while anything else does.
        if any(container.running for container in containers):
            return InstanceState.RUNNING
        return InstanceState.COMPLETED

    def health(self) -> Health:
        if not self.containers:
            return Health.STARTING
        return pod_health(container.health() for container in self.containers.values())

    def stop_background_work(self) -> None:
        """Cancel the pod's pending restarts and healthchecks."""
        for container in self.containers.values():
            if container.restart_timer is not None:
                container.restart_timer.cancel()
                container.restart_timer = None
            if container.monitor is not None:
                container.monitor.stop()


@dataclass
class AgentState:
    """What the agent's parts share: the pods it tracks, and the instances a change holds."""

    node_name: str
    mirrors: ClusterMirrors
    pods: dict[InstanceKey, PodTrack] = field(default_factory=dict)
    busy: set[InstanceKey] = field(default_factory=set)
    """Instances with a change in flight (a start, stop or replacement)."""
    early_exits: dict[InstanceKey, list[ContainerExit]] = field(default_factory=dict)
    """Exits seen while an instance's pod was still being started: applied once it is tracked."""
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def pod_labels(self) -> dict[str, str]:
        return {LABEL_NODE: self.node_name}

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background; it is cancelled when the agent stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def spec_of(self, job_name: str) -> JobSpec | None:
        record = self.mirrors.job(job_name)
        return record.spec if record else None

    def restart_policy(self, job_name: str, container_name: str) -> RestartPolicy:
        spec = self.spec_of(job_name)
        container = spec.containers.get(container_name) if spec else None
        return container.restart if container else "never"

    def max_retries(self, job_name: str, container_name: str) -> int | None:
        """The container's most restarts on failure, None for no limit (or an unknown job)."""
        spec = self.spec_of(job_name)
        container = spec.containers.get(container_name) if spec else None
        return container.max_retries if container else None

    def memory_limit(self, job_name: str, container_name: str) -> int | None:
        """The container's memory limit in bytes, None if its job's spec is not known."""
        spec = self.spec_of(job_name)
        container = spec.containers.get(container_name) if spec else None
        return container.memory if container else None
