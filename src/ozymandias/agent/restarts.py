"""Container exits and restart policies: Nomad's restart hook, for the agent.

Exits come from the runtime's event stream, never by polling; after each
(re)connection of that stream, the exits it may have missed are caught up
from the runtime's own view. A policy that restarts waits out a back-off
that doubles while the container keeps crashing (`restart_policy.py`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from ozymandias.agent.exit_reasons import exit_reason
from ozymandias.agent.pod_plan import key_from_labels, local_pod_from_labels
from ozymandias.agent.reporting import Reporter, log_fields
from ozymandias.agent.restart_policy import (
    next_crash_streak,
    restart_delay,
    retries_exhausted,
    should_restart,
)
from ozymandias.agent.tracks import UNHEALTHY_EXIT_CODE, AgentState, ContainerTrack, PodTrack
from ozymandias.cluster.records import instance_name
from ozymandias.metrics.node import CONTAINER_RESTARTS
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ContainerExit, ContainerInfo, StreamConnected

log = logging.getLogger(__name__)


class Restarts:
    """Applies each container's restart policy when it exits."""

    def __init__(self, state: AgentState, runtime: ContainerRuntime, reporter: Reporter) -> None:
        self._state = state
        self._runtime = runtime
        self._reporter = reporter

    async def follow_exits(self) -> None:
        async for item in self._runtime.container_exits(self._state.pod_labels):
            if isinstance(item, StreamConnected):
                # Exits may have happened before the stream (re)connected.
                await self.catch_up()
            else:
                await self._on_exit(item)

    async def _on_exit(self, exit: ContainerExit) -> None:
        local = key_from_labels(exit.labels)
        if local is None:
            return
        track = self._state.pods.get(local)
        if track is None and local in self._state.busy:
            self._state.early_exits.setdefault(local, []).append(exit)
            return
        if track is None or local in self._state.busy:
            return  # a pod being stopped or replaced, or not ours
        container = track.containers.get(exit.container_name)
        if container is None or container.container_id != exit.container_id:
            return
        ran_for = time.monotonic() - container.started_at
        self.handle_exit(track, container, exit.exit_code, ran_for, oom_killed=exit.oom_killed)
        await self._reporter.publish(track.pod.key)

    def handle_exit(
        self,
        track: PodTrack,
        container: ContainerTrack,
        code: int,
        ran_for: float,
        *,
        oom_killed: bool = False,
    ) -> None:
        """Apply the container's restart policy to its exit with `code`.

        `oom_killed`: the runtime saw the kernel's OOM killer kill a process of it.
        """
        container.running = False
        container.exit_code = code
        if container.monitor is not None:
            container.monitor.stop()
        policy = self._state.restart_policy(track.pod.job, container.name)
        reason = exit_reason(
            container.name,
            code,
            oom_killed=oom_killed,
            memory_limit=self._state.memory_limit(track.pod.job, container.name),
            stopped_as_unhealthy=container.stopped_as_unhealthy,
        )
        # A container stopped for failing its healthcheck failed, whatever its exit code.
        failure = UNHEALTHY_EXIT_CODE if container.stopped_as_unhealthy else code
        container.stopped_as_unhealthy = False
        restarting = should_restart(policy, failure)
        max_retries = self._state.max_retries(track.pod.job, container.name)
        if restarting and retries_exhausted(max_retries, container.restarts):
            restarting = False
            reason = f"{reason}; not restarted: it was restarted {max_retries} times (max_retries)"
        if not restarting:
            track.reason = reason
            self._state.spawn(
                self._reporter.record(
                    track.pod.job, track.pod.index, "container-exited", track.reason
                )
            )
            return
        container.crash_streak = next_crash_streak(container.crash_streak, ran_for)
        delay = restart_delay(container.crash_streak)
        track.reason = f"{reason}; restarting in {delay:.0f}s"
        self._state.spawn(
            self._reporter.record(
                track.pod.job,
                track.pod.index,
                "container-restarting",
                track.reason,
                level=logging.WARNING,
            )
        )
        self.schedule(track, container, delay)

    def schedule(self, track: PodTrack, container: ContainerTrack, delay: float) -> None:
        container.restart_at = time.time() + delay
        container.restart_timer = asyncio.get_running_loop().create_task(
            self._restart_after(track, container, delay)
        )

    async def _restart_after(
        self, track: PodTrack, container: ContainerTrack, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        try:
            await self._runtime.start_container(container.container_id)
        except Exception as error:
            track.reason = f"could not restart container {container.name}: {error}"
            log.warning(
                "%s: %s",
                instance_name(track.pod.job, track.pod.index),
                track.reason,
                extra=log_fields(track.pod.job, track.pod.index),
            )
        else:
            container.running = True
            container.exit_code = None
            container.restarts += 1
            CONTAINER_RESTARTS.labels(track.pod.job).inc()
            container.started_at = time.monotonic()
            track.reason = ""
            if container.monitor is not None:
                container.monitor.start()
        finally:
            container.restart_timer = None
            container.restart_at = None
        await self._reporter.publish(track.pod.key)

    async def catch_up(self) -> None:
        """Apply restart policies to containers that exited while we were not looking."""
        for info in await self._runtime.list_pods(self._state.pod_labels):
            local = local_pod_from_labels(info)
            track = self._state.pods.get(local.key) if local else None
            if track is None or track.pod.key in self._state.busy:
                continue
            for c in info.containers:
                container = track.containers.get(c.name)
                if container is None or c.state == "running" or container.restart_timer is not None:
                    continue
                if container.running or container.exit_code is None:
                    self.handle_exit(track, container, c.exit_code or 0, ran_for(c))
            await self._reporter.publish(track.pod.key)


def ran_for(info: ContainerInfo) -> float:
    """How long a container that exited had run, from podman's times (0 if unknown)."""
    if info.started_at is None or info.finished_at is None:
        return 0.0
    return max(0.0, (info.finished_at - info.started_at).total_seconds())
