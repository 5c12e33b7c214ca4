"""Following healthchecks: Nomad's check hook, for the agent.

Each container with a healthcheck gets a monitor while it runs. A change
of health is published first (so an unhealthy instance leaves DNS and the
ingress before anything else); a container that turns unhealthy is then
stopped, so that its exit goes through its restart policy and back-off.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from ozymandias.agent.reporting import Reporter, log_fields
from ozymandias.agent.restart_policy import should_restart
from ozymandias.agent.tracks import UNHEALTHY_EXIT_CODE, AgentState, ContainerTrack, PodTrack
from ozymandias.cluster.records import Health, instance_name
from ozymandias.health.checks import CheckResult, run_check
from ozymandias.health.monitor import HealthMonitor
from ozymandias.health.state import CheckState
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.spec.models import HealthCheck, JobSpec

log = logging.getLogger(__name__)


class HealthFollower:
    """Runs the pods' healthchecks and acts on what they find."""

    def __init__(self, state: AgentState, runtime: ContainerRuntime, reporter: Reporter) -> None:
        self._state = state
        self._runtime = runtime
        self._reporter = reporter

    def watch(self, track: PodTrack, spec: JobSpec) -> None:
        """Start checking every running container of the pod that has a healthcheck."""
        for container in track.containers.values():
            container_spec = spec.containers.get(container.name)
            if container_spec is None or container_spec.healthcheck is None:
                continue
            container.monitor = self._monitor(track, container, container_spec.healthcheck)
            if container.running:
                container.monitor.start()

    def _monitor(
        self, track: PodTrack, container: ContainerTrack, check: HealthCheck
    ) -> HealthMonitor:
        def probe() -> Awaitable[CheckResult]:
            return run_check(check, track.ip, container.container_id, self._runtime.exec)

        def on_change(state: CheckState, result: CheckResult) -> None:
            self._state.spawn(self._on_health_change(track, container, state, result))

        return HealthMonitor(check, probe, on_change)

    async def _on_health_change(
        self, track: PodTrack, container: ContainerTrack, state: CheckState, result: CheckResult
    ) -> None:
        key = track.pod.key
        if self._state.pods.get(key) is not track:
            return  # the pod was stopped or replaced meanwhile
        if state.health is Health.HEALTHY:
            log.info(
                "%s: container %s is healthy",
                instance_name(track.pod.job, track.pod.index),
                container.name,
                extra=log_fields(track.pod.job, track.pod.index),
            )
        if track.health() is Health.HEALTHY:
            track.reason = ""  # whatever went wrong before is over
        # The monitor that found the container unhealthy, if that is the news.
        monitor = container.monitor if state.health is Health.UNHEALTHY else None
        policy = self._state.restart_policy(track.pod.job, container.name)
        if monitor is not None:
            # Set before publishing, so the unhealthy status carries its reason.
            failed = (
                f"container {container.name} failed its {monitor.check.type} healthcheck "
                f"{state.failures} times in a row; last: {one_line(result.output)}"
            )
            if should_restart(policy, UNHEALTHY_EXIT_CODE):
                track.reason = f"{failed}; restarting it (restart: {policy})"
            else:
                track.reason = f"{failed}; left running outside DNS (restart: {policy})"
        # Publishing first takes an unhealthy instance out of DNS before anything else.
        await self._reporter.publish(key)
        if monitor is None:
            return
        await self._reporter.record(
            track.pod.job,
            track.pod.index,
            "container-unhealthy",
            track.reason,
            level=logging.WARNING,
        )
        if should_restart(policy, UNHEALTHY_EXIT_CODE):
            monitor.stop()
            container.stopped_as_unhealthy = True
            # Its exit then goes through the restart policy and its back-off.
            await self._runtime.stop_container(container.container_id)


def one_line(output: str, limit: int = 200) -> str:
    """A check's output fit for a one-line reason: whitespace runs (newlines too) as one space."""
    text = " ".join(output.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
