"""Adopting the pods a previous run of this node left: nothing is duplicated or lost.

Containers are owned by conmon and outlive the daemon. A restarted daemon
finds its pods by label, and the statuses its previous run reported (still
in etcd, under the lease it kept) tell each container's restart count,
crash streak and pending restart, so restart policies go on where they were.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from ozymandias.agent.health_following import HealthFollower
from ozymandias.agent.local_plan import LocalPod
from ozymandias.agent.pod_plan import local_pod_from_labels, pod_ports
from ozymandias.agent.reporting import log_fields
from ozymandias.agent.restarts import Restarts, ran_for
from ozymandias.agent.tracks import AgentState, ContainerTrack, PodTrack
from ozymandias.cluster.records import InstanceStatus
from ozymandias.network.firewall import PodFirewall
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ContainerInfo, PodInfo

log = logging.getLogger(__name__)


class Adoption:
    """Takes over the pods found on the runtime when the agent starts."""

    def __init__(
        self,
        state: AgentState,
        runtime: ContainerRuntime,
        restarts: Restarts,
        health: HealthFollower,
        firewall: PodFirewall | None,
    ) -> None:
        self._state = state
        self._runtime = runtime
        self._restarts = restarts
        self._health = health
        self._firewall = firewall

    async def adopt_running_pods(self) -> None:
        """Take over the pods a previous run of this node left, so none is duplicated.

        The previous run's statuses (still in etcd, under the lease this run
        kept) carry each container's restart count, crash streak and pending
        restart, so restart policies and their back-off go on where they were.
        """
        reported = {
            (status.job, status.index): status
            for status in self._state.mirrors.node_statuses(self._state.node_name)
        }
        for info in await self._runtime.list_pods(self._state.pod_labels):
            local = local_pod_from_labels(info)
            if local is None or local.key in self._state.pods:
                log.warning("removing unrecognised or duplicate pod %s", info.name)
                await self._runtime.remove_pod(info.name)
                continue
            self._adopt(local, info, reported.get(local.key))
            log.info("adopted pod %s", info.name, extra=log_fields(*local.key))
        if self._firewall is not None:
            # Also clears the rules a crashed previous run left for pods now gone.
            await self._firewall.reset(
                {
                    track.pod.pod_name: pod_ports(track.ip, self._state.spec_of(track.pod.job))
                    for track in self._state.pods.values()
                }
            )
        await self._restarts.catch_up()

    def _adopt(self, local: LocalPod, info: PodInfo, previous: InstanceStatus | None) -> None:
        track = PodTrack(local, info.ip, {}, reason=previous.reason if previous else "")
        known = {c.name: c for c in previous.containers} if previous else {}
        for c in info.containers:
            was = known.get(c.name)
            track.containers[c.name] = ContainerTrack(
                c.name,
                c.id,
                running=c.state == "running",
                restarts=was.restarts if was else 0,
                crash_streak=was.crash_streak if was else 0,
                started_at=_monotonic_from(c.started_at),
            )
        self._state.pods[local.key] = track
        spec = self._state.spec_of(local.job)
        if spec is not None:
            self._health.watch(track, spec)
        for c in info.containers:
            if c.state != "running":
                self._resume_exited(track, track.containers[c.name], c, previous)

    def _resume_exited(
        self,
        track: PodTrack,
        container: ContainerTrack,
        info: ContainerInfo,
        previous: InstanceStatus | None,
    ) -> None:
        """An adopted container that is not running: go on as the previous run would have."""
        known = previous.containers if previous is not None else []
        was = next((c for c in known if c.name == container.name), None)
        finished = info.finished_at.timestamp() if info.finished_at else 0.0
        seen = (
            previous is not None
            and was is not None
            and was.state == "exited"
            and finished <= previous.updated_at
        )
        if not seen:
            # It exited while no daemon was watching: apply its policy now.
            self._restarts.handle_exit(track, container, info.exit_code or 0, ran_for(info))
            return
        container.running = False
        container.exit_code = info.exit_code
        if was is not None and was.restart_at is not None:
            # Its restart was pending: keep the time the back-off had set.
            self._restarts.schedule(track, container, max(0.0, was.restart_at - time.time()))


def _monotonic_from(started_at: datetime | None) -> float:
    """A wall-clock start time on the monotonic clock the agent measures runs with."""
    now = time.monotonic()
    if started_at is None:
        return now
    return now - max(0.0, time.time() - started_at.timestamp())
