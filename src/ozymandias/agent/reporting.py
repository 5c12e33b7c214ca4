"""Reporting: each instance's status (under the node's lease), its DNS entry, and events.

One place says what the rest of the cluster sees of this node's pods:
`publish` writes an instance's status and its DNS health together, and
`withdraw` takes an instance out of DNS and the ingress together before
its pod goes away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from ozymandias.agent.local_plan import DesiredInstance, InstanceKey, LocalPod
from ozymandias.agent.tracks import AgentState, PodTrack
from ozymandias.cluster.records import (
    ContainerStatus,
    Event,
    Health,
    InstanceState,
    InstanceStatus,
    instance_name,
)
from ozymandias.dns.skydns_layout import HealthyInstance
from ozymandias.store.etcd import StoreUnavailable

log = logging.getLogger(__name__)


class StatusStore(Protocol):
    """The part of `ClusterStore` the agent writes through."""

    async def put_instance_status(self, status: InstanceStatus, lease_id: int) -> None: ...

    async def put_leaving_instance_status(self, status: InstanceStatus, lease_id: int) -> None: ...

    async def delete_instance_status(self, job_name: str, index: int, node_name: str) -> None: ...

    async def record_event(self, event: Event) -> None: ...


class DnsPublishing(Protocol):
    """The part of `DnsPublisher` the agent drives."""

    async def set_health(self, key: InstanceKey, instance: HealthyInstance | None) -> None: ...

    async def withdraw_all(self) -> None: ...


class Reporter:
    def __init__(
        self,
        state: AgentState,
        store: StatusStore,
        lease_id: Callable[[], int],
        publisher: DnsPublishing,
    ) -> None:
        self._state = state
        self._store = store
        self._lease_id = lease_id
        self._publisher = publisher

    async def withdraw(self, pod: LocalPod, track: PodTrack | None) -> bool:
        """Take the instance out of DNS and (through its status) every node's ingress.

        Returns whether it was serving, so the caller lets it drain first.
        """
        await self._publisher.set_health(pod.key, None)
        if track is None or track.health() is not Health.HEALTHY:
            return False
        await self._put_leaving_status(
            InstanceStatus(
                job=pod.job,
                index=pod.index,
                node=self._state.node_name,
                state=InstanceState.STOPPING,
                pod_ip=track.ip,
                restarts=track.restarts,
                spec_version=pod.version,
                updated_at=time.time(),
                health=Health.UNHEALTHY,
                pod_id=track.pod_id,
            )
        )
        return True

    async def withdraw_all(self) -> None:
        await self._publisher.withdraw_all()

    async def publish(self, key: InstanceKey) -> None:
        track = self._state.pods.get(key)
        if track is None:
            return
        health = track.health()
        if health is not Health.HEALTHY:
            track.healthy_since = 0.0
        elif not track.healthy_since:
            track.healthy_since = time.time()
        await self._publisher.set_health(key, self._healthy_instance(track, health))
        status = InstanceStatus(
            job=track.pod.job,
            index=track.pod.index,
            node=self._state.node_name,
            state=track.state(),
            reason=track.reason,
            pod_ip=track.ip,
            restarts=track.restarts,
            spec_version=track.pod.version,
            containers=[
                ContainerStatus(
                    name=c.name,
                    state="running" if c.running else "exited",
                    exit_code=c.exit_code,
                    restarts=c.restarts,
                    crash_streak=c.crash_streak,
                    restart_at=c.restart_at,
                )
                for c in track.containers.values()
            ],
            updated_at=time.time(),
            health=health,
            healthy_since=track.healthy_since,
            pod_id=track.pod_id,
        )
        await self._put_status(status)

    def _healthy_instance(self, track: PodTrack, health: Health) -> HealthyInstance | None:
        """The instance's DNS entry, while it runs, is healthy and has an address."""
        if health is not Health.HEALTHY or track.state() is not InstanceState.RUNNING:
            return None  # a pod whose one-shots all completed serves nothing
        if not track.ip:
            return None
        spec = self._state.spec_of(track.pod.job)
        ports = tuple(port for c in spec.containers.values() for port in c.ports) if spec else ()
        return HealthyInstance(track.pod.job, track.pod.index, track.ip, ports)

    async def publish_state(
        self, instance: DesiredInstance, state: InstanceState, reason: str = ""
    ) -> None:
        await self._put_status(
            InstanceStatus(
                job=instance.job,
                index=instance.index,
                node=self._state.node_name,
                state=state,
                reason=reason,
                spec_version=instance.version,
                updated_at=time.time(),
                health=Health.UNHEALTHY if state is InstanceState.FAILED else Health.STARTING,
            )
        )

    async def _put_status(self, status: InstanceStatus) -> None:
        try:
            await self._store.put_instance_status(status, self._lease_id())
        except StoreUnavailable as error:
            log.warning(
                "could not report %s: %s",
                instance_name(status.job, status.index),
                error,
                extra=log_fields(status.job, status.index),
            )

    async def _put_leaving_status(self, status: InstanceStatus) -> None:
        try:
            await self._store.put_leaving_instance_status(status, self._lease_id())
        except StoreUnavailable as error:
            log.warning(
                "could not report %s: %s",
                instance_name(status.job, status.index),
                error,
                extra=log_fields(status.job, status.index),
            )

    async def delete_status(self, key: InstanceKey) -> None:
        try:
            await self._store.delete_instance_status(*key, self._state.node_name)
        except StoreUnavailable as error:
            log.warning(
                "could not clear the status of %s: %s",
                instance_name(*key),
                error,
                extra=log_fields(*key),
            )

    async def record_for(self, pod: LocalPod, kind: str, message: str) -> None:
        await self.record(pod.job, pod.index, kind, message)

    async def record(
        self, job: str, index: int, kind: str, message: str, level: int = logging.INFO
    ) -> None:
        """Log an instance's event (its starts, stops, failures, restarts, health) and
        record it in etcd for `ozy get events`."""
        log.log(level, "%s: %s", instance_name(job, index), message, extra=log_fields(job, index))
        await self._store.record_event(
            Event(
                time=time.time(),
                kind=kind,
                message=message,
                job=job,
                instance=instance_name(job, index),
                node=self._state.node_name,
            )
        )


def log_fields(job: str, index: int) -> dict[str, str]:
    """The fields of a log line about one instance."""
    return {"job": job, "instance": instance_name(job, index)}
