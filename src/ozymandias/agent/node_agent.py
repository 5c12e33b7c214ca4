"""The per-node agent: makes the pods on this node match the schedules in etcd.

It follows the cluster mirrors, starts and stops pods through the runtime,
applies restart policies when containers exit (learned from the runtime's
event stream, never by polling), and reports each instance's state back to
etcd under the node's lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ozymandias.agent.local_plan import (
    DesiredInstance,
    InstanceKey,
    LocalPod,
    StartBackOff,
    desired_instance,
    desired_on_node,
    plan_local_changes,
    rollout_allows,
    waiting_out_back_off,
)
from ozymandias.agent.restart_policy import (
    RestartPolicy,
    next_crash_streak,
    restart_delay,
    should_restart,
)
from ozymandias.agent.volumes import PodVolumes
from ozymandias.cluster.records import (
    ContainerStatus,
    Event,
    Health,
    InstanceState,
    InstanceStatus,
    instance_name,
)
from ozymandias.dns.publisher import DnsPublisher
from ozymandias.dns.skydns_layout import HealthyInstance
from ozymandias.health.checks import CheckResult, run_check
from ozymandias.health.monitor import HealthMonitor
from ozymandias.health.state import CheckState, pod_health
from ozymandias.network.firewall import PodFirewall, PodPorts
from ozymandias.runtime.models import (
    ContainerExit,
    ContainerInfo,
    ContainerPlan,
    Mount,
    PodInfo,
    PodPlan,
    RuntimeUnavailable,
    StreamConnected,
)
from ozymandias.runtime.podman import PodmanRuntime
from ozymandias.spec.models import HealthCheck, JobSpec
from ozymandias.store.cluster_store import ClusterMirrors, ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.volumes.local_disk import VolumeError

log = logging.getLogger(__name__)

LABEL_NODE = "ozy.node"
LABEL_JOB = "ozy.job"
LABEL_INDEX = "ozy.index"
LABEL_VERSION = "ozy.spec-version"

# How long a healthy pod that is being stopped keeps serving after it leaves
# DNS and the ingress: ample for every node's proxy to hear of it (a watch
# event, then a runtime API call), short enough not to slow a scale-down.
DRAIN_SECONDS = 1.0

# An unhealthy container is restarted as if it had failed: policies that
# restart on failure (always, on-failure, unless-stopped) restart it.
_UNHEALTHY_EXIT_CODE = 1


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
        """From its checks while it runs (healthy without any); else down or restarting."""
        if self.running:
            return self.monitor.state.health if self.monitor else Health.HEALTHY
        return Health.STARTING if self.restart_timer is not None else Health.UNHEALTHY


@dataclass
class PodTrack:
    """A pod this node runs, and the state it reports for it."""

    pod: LocalPod
    ip: str
    containers: dict[str, ContainerTrack]
    reason: str = ""

    @property
    def restarts(self) -> int:
        return sum(container.restarts for container in self.containers.values())

    def state(self) -> InstanceState:
        if all(container.running for container in self.containers.values()):
            return InstanceState.RUNNING
        if any(container.restart_timer is not None for container in self.containers.values()):
            return InstanceState.STARTING
        failed = any(c.exit_code not in (None, 0) for c in self.containers.values())
        return InstanceState.FAILED if failed else InstanceState.EXITED

    def health(self) -> Health:
        if not self.containers:
            return Health.STARTING
        return pod_health(container.health() for container in self.containers.values())


def pod_name(node_name: str, job: str, index: int) -> str:
    # The node name keeps pods of different nodes apart when several node
    # daemons share one podman (as in tests, or during a re-placement).
    return f"ozy-{node_name}-{instance_name(job, index)}"


def pod_plan(
    node_name: str,
    desired: DesiredInstance,
    network: str | None,
    dns_servers: list[str] | None = None,
    mounts: Mapping[str, list[Mount]] | None = None,
) -> PodPlan:
    """The runtime's plan for one instance; `mounts` are its volumes, by container name."""
    spec = desired.spec
    labels = {
        LABEL_NODE: node_name,
        LABEL_JOB: desired.job,
        LABEL_INDEX: str(desired.index),
        LABEL_VERSION: str(desired.version),
    }
    instance = instance_name(desired.job, desired.index)
    mounts = mounts or {}
    waves = [
        [_container_plan(spec, name, instance, mounts.get(name, [])) for name in wave]
        for wave in spec.start_order
    ]
    return PodPlan(
        pod_name=pod_name(node_name, desired.job, desired.index),
        labels=labels,
        network=network,
        hostname=instance,
        start_waves=waves,
        dns_servers=dns_servers,
    )


def _container_plan(spec: JobSpec, name: str, instance: str, mounts: list[Mount]) -> ContainerPlan:
    container = spec.containers[name]
    environment = {"OZY_JOB": spec.name, "OZY_INSTANCE": instance, **container.environment}
    return ContainerPlan(
        name=name,
        image=container.image,
        command=list(container.command) if container.command else None,
        environment=environment,
        memory=container.memory,
        mounts=mounts,
    )


def pod_ports(ip: str, spec: JobSpec | None) -> PodPorts:
    """The ports every container of the pod declares (none if the job is gone)."""
    containers = spec.containers.values() if spec else ()
    return PodPorts(ip, tuple(port for container in containers for port in container.ports))


def local_pod_from_labels(info: PodInfo) -> LocalPod | None:
    try:
        return LocalPod(
            pod_name=info.name,
            job=info.labels[LABEL_JOB],
            index=int(info.labels[LABEL_INDEX]),
            version=int(info.labels[LABEL_VERSION]),
        )
    except (KeyError, ValueError):
        return None


class NodeAgent:
    def __init__(
        self,
        node_name: str,
        runtime: PodmanRuntime,
        store: ClusterStore,
        mirrors: ClusterMirrors,
        lease_id: Callable[[], int],
        publisher: DnsPublisher,
        network: str | None = None,
        dns_servers: list[str] | None = None,
        firewall: PodFirewall | None = None,
        volumes: PodVolumes | None = None,
    ) -> None:
        """`firewall`, if given, maps and filters each pod's ports while the pod runs;
        `volumes`, if given, provides the pods' volumes (a job with volumes fails without)."""
        self.node_name = node_name
        self._runtime = runtime
        self._store = store
        self._mirrors = mirrors
        self._lease_id = lease_id
        self._publisher = publisher
        self._network = network
        self._dns_servers = dns_servers
        self._firewall = firewall
        self._volumes = volumes
        self._pods: dict[InstanceKey, PodTrack] = {}
        self._busy: set[InstanceKey] = set()
        # Pods that failed to start, and when each may be tried again (monotonic).
        self._start_back_offs: dict[InstanceKey, StartBackOff] = {}
        # Exits seen while an instance's pod was still being started: they are
        # applied once the start finishes and the agent tracks the pod.
        self._early_exits: dict[InstanceKey, list[ContainerExit]] = {}
        self._wake = asyncio.Event()
        self._rollout_waiting = False  # some pod waits its turn in a rolling update
        self._unreleasable: set[InstanceKey] = set()  # volumes a release failed to remove
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def pod_labels(self) -> dict[str, str]:
        return {LABEL_NODE: self.node_name}

    async def run(self) -> None:
        """Adopt what already runs here, then keep reconciling until cancelled."""
        await self._mirrors.wait_synced()
        await self._adopt_running_pods()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._follow_container_exits())
                group.create_task(self._wake_on_change())
                group.create_task(self._reconcile_forever())
        finally:
            for task in list(self._tasks):
                task.cancel()
            for track in self._pods.values():
                _stop_background_work(track)

    async def stop_all_pods(self) -> None:
        """Stop every pod of this node: used when the node leaves the cluster."""
        for track in self._pods.values():
            _stop_background_work(track)
        await self._publisher.withdraw_all()
        # By label, not only the tracked pods: one being drained or started is not tracked.
        pod_names = {track.pod.pod_name for track in self._pods.values()}
        with contextlib.suppress(RuntimeUnavailable):
            pod_names |= {info.name for info in await self._runtime.list_pods(self.pod_labels)}
        await asyncio.gather(
            *(self._runtime.remove_pod(name) for name in sorted(pod_names)),
            return_exceptions=True,
        )
        if self._volumes is not None:
            # The node leaves for good: its instances will start afresh elsewhere.
            await self._volumes.remove_all()
        if self._firewall is not None:
            await self._firewall.reset({})
        self._pods.clear()

    async def logs(
        self, job: str, index: int, container: str, *, follow: bool, tail: int | None
    ) -> AsyncIterator[bytes]:
        """A container's output, for the API's logs endpoint."""
        track = self._pods.get((job, index))
        if track is None or container not in track.containers:
            instance = instance_name(job, index)
            yield f"{instance} has no {container} container on {self.node_name} yet\n".encode()
            return
        container_id = track.containers[container].container_id
        async for chunk in self._runtime.logs(container_id, follow=follow, tail=tail):
            yield chunk

    # Reconciling

    async def _wake_on_change(self) -> None:
        jobs, schedules = self._mirrors.jobs, self._mirrors.schedules

        async def follow(
            mirror_wait: Callable[[int], Coroutine[Any, Any, int]], start: int
        ) -> None:
            revision = start
            while True:
                revision = await mirror_wait(revision)
                self._wake.set()

        async def follow_statuses_while_rolling_out() -> None:
            # Only a rolling update waits on other instances' health: otherwise
            # status changes (frequent, cluster-wide) need not wake the agent.
            statuses = self._mirrors.instances
            revision = statuses.revision
            while True:
                revision = await statuses.wait_for_change(revision)
                if self._rollout_waiting:
                    self._wake.set()

        await asyncio.gather(
            follow(jobs.wait_for_change, jobs.revision),
            follow(schedules.wait_for_change, schedules.revision),
            follow_statuses_while_rolling_out(),
        )

    async def _reconcile_forever(self) -> None:
        self._wake.set()
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._reconcile_once()

    def _desired(self) -> dict[InstanceKey, DesiredInstance]:
        return desired_on_node(
            self.node_name,
            self._mirrors.jobs.items.values(),
            self._mirrors.schedules.items.values(),
        )

    def _desired_instance(self, key: InstanceKey) -> DesiredInstance | None:
        job_name, index = key
        return desired_instance(
            self.node_name, self._mirrors.job(job_name), self._mirrors.schedule(job_name), index
        )

    def _reconcile_once(self) -> None:
        desired = self._desired()
        running = [track.pod for track in self._pods.values()]
        # Grouped once a reconcile, and only if some pod is up for replacement.
        statuses_by_job: dict[str, dict[int, InstanceStatus]] | None = None

        def may_replace(instance: DesiredInstance) -> bool:
            nonlocal statuses_by_job
            if statuses_by_job is None:
                statuses_by_job = {}
                for status in self._mirrors.instance_statuses():
                    statuses_by_job.setdefault(status.job, {})[status.index] = status
            schedule = self._mirrors.schedule(instance.job)
            placed = schedule.placements.keys() if schedule is not None else ()
            return rollout_allows(instance, placed, statuses_by_job.get(instance.job, {}))

        for key in self._start_back_offs.keys() - desired.keys():
            del self._start_back_offs[key]
        now = time.monotonic()
        waiting = waiting_out_back_off(desired, self._start_back_offs, now)
        if waiting:
            # Re-armed on every pass: a timer may fire a moment early on the loop's clock.
            due = min(self._start_back_offs[key].retry_at for key in waiting)
            asyncio.get_running_loop().call_later(due - now + 0.01, self._wake.set)
        changes = plan_local_changes(desired, running, self._busy | waiting, may_replace)
        self._rollout_waiting = bool(changes.held)
        for instance in changes.start:
            self._launch(instance.key, self._start(instance))
        for pod in changes.stop:
            self._launch(pod.key, self._stop(pod))
        for pod, instance in changes.replace:
            self._launch(pod.key, self._replace(pod, instance))
        self._sweep_volumes(desired)
        self._forget_stale_statuses(desired)

    def _launch(self, key: InstanceKey, work: Coroutine[Any, Any, None]) -> None:
        """Run one change to an instance in the background, one change at a time."""
        self._busy.add(key)

        async def run_then_release() -> None:
            try:
                await work
            except Exception:
                log.exception("change to %s failed", instance_name(*key))
            finally:
                self._busy.discard(key)
                self._early_exits.pop(key, None)
                self._wake.set()

        self._spawn(run_then_release())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _sweep_volumes(self, desired: dict[InstanceKey, DesiredInstance]) -> None:
        """Release local volumes no instance here owns: a pod that never started, an old run's.

        Each release is launched as a change to its instance, so a start of
        that instance waits for it rather than racing it.
        """
        volumes = self._volumes
        if volumes is None:
            return
        for key in volumes.instances_with_volumes():
            if (
                key in desired
                or key in self._pods
                or key in self._busy
                or key in self._unreleasable
            ):
                continue
            log.info("releasing the local volumes of %s: no instance here", instance_name(*key))
            self._busy.add(key)
            self._spawn(self._release_unowned(volumes, key))

    async def _release_unowned(self, volumes: PodVolumes, key: InstanceKey) -> None:
        # Unlike other changes, a release wakes no reconcile when it ends: one
        # that fails (or leaves something behind) must not be retried in a loop.
        try:
            await volumes.release(*key)
        except Exception as error:
            log.error("could not release the local volumes of %s: %s", instance_name(*key), error)
        finally:
            self._busy.discard(key)
        if key in volumes.instances_with_volumes():
            log.error(
                "the local volumes of %s are still there; leaving them until the node restarts",
                instance_name(*key),
            )
            self._unreleasable.add(key)

    def _forget_stale_statuses(self, desired: dict[InstanceKey, DesiredInstance]) -> None:
        """Delete status records this node wrote for instances it no longer has."""
        for status in self._mirrors.instance_statuses():
            key = (status.job, status.index)
            if (
                status.node == self.node_name
                and key not in desired
                and key not in self._pods
                and key not in self._busy
            ):
                self._spawn(self._delete_status(key))

    # Changes to one instance

    async def _start(self, instance: DesiredInstance) -> None:
        key = instance.key
        await self._publish_state(instance, InstanceState.STARTING)
        try:
            mounts = await self._volumes_for(instance)
            info = await self._runtime.run_pod(
                pod_plan(self.node_name, instance, self._network, self._dns_servers, mounts)
            )
            await self._open_ports(info, instance.spec)
        except Exception as error:
            previous = self._start_back_offs.get(key)
            same_version = previous is not None and previous.version == instance.version
            streak = previous.streak + 1 if previous is not None and same_version else 1
            delay = restart_delay(streak)
            # Not a sleep: the instance is free meanwhile, so a new version of
            # the spec (the fix) starts at once instead of after this back-off.
            self._start_back_offs[key] = StartBackOff(
                instance.version, streak, time.monotonic() + delay
            )
            reason = f"{error}; retrying in {delay:.0f}s"
            log.warning("%s failed to start: %s", instance_name(*key), reason)
            await self._publish_state(instance, InstanceState.FAILED, reason)
            await self._record(instance.job, instance.index, "instance-failed", reason)
            return
        self._start_back_offs.pop(key, None)
        local = LocalPod(info.name, instance.job, instance.index, instance.version)
        track = PodTrack(
            local, info.ip, {c.name: ContainerTrack(c.name, c.id) for c in info.containers}
        )
        self._pods[key] = track
        self._watch_health(track, instance.spec)
        exited = {c.id: c.exit_code or 0 for c in info.containers if c.state != "running"}
        exited.update({e.container_id: e.exit_code for e in self._early_exits.pop(key, [])})
        for container in track.containers.values():
            if container.container_id in exited:
                self._handle_exit(track, container, exited[container.container_id], 0.0)
        await self._publish(key)
        await self._record(
            instance.job, instance.index, "instance-started", f"started on {self.node_name}"
        )

    async def _stop(self, pod: LocalPod) -> None:
        await self._take_down(pod)
        await self._forget(pod)

    async def _forget(self, pod: LocalPod) -> None:
        """After its pod is gone: release the instance's volumes and status, if it left.

        A duplicate pod of an instance that stays leaves both be.
        """
        if self._desired_instance(pod.key) is None:
            if self._volumes is not None:
                await self._volumes.release(pod.job, pod.index)
            await self._delete_status(pod.key)
        await self._record(pod.job, pod.index, "instance-stopped", f"stopped on {self.node_name}")

    async def _replace(self, pod: LocalPod, instance: DesiredInstance) -> None:
        await self._take_down(pod)
        # The drain took a second: start what is wanted now, which may be
        # nothing (the instance was moved, scaled away or deleted meanwhile).
        current = self._desired_instance(pod.key)
        if current is None:
            await self._forget(pod)
        else:
            await self._start(current)

    async def _take_down(self, pod: LocalPod) -> None:
        """Withdraw the pod from DNS and every node's ingress, let it drain, then remove it.

        Like Nomad's shutdown_delay: a healthy pod keeps serving the requests
        already sent to it for `DRAIN_SECONDS` while the proxies learn it is
        going, so stopping it (scale-down, a new spec) fails no request.
        """
        track = self._pods.pop(pod.key, None)
        if track is not None:
            _stop_background_work(track)
        await self._publisher.set_health(pod.key, None)
        if track is not None and track.health() is Health.HEALTHY:
            await self._put_leaving_status(
                InstanceStatus(
                    job=pod.job,
                    index=pod.index,
                    node=self.node_name,
                    state=InstanceState.STOPPING,
                    pod_ip=track.ip,
                    restarts=track.restarts,
                    spec_version=pod.version,
                    updated_at=time.time(),
                    health=Health.UNHEALTHY,
                )
            )
            await asyncio.sleep(DRAIN_SECONDS)
        await self._runtime.remove_pod(pod.pod_name)
        await self._close_ports(pod.pod_name)

    async def _volumes_for(self, instance: DesiredInstance) -> dict[str, list[Mount]]:
        if self._volumes is None:
            if instance.spec.local_volumes or instance.spec.shared_volumes:
                raise VolumeError(f"node {self.node_name} does not provide volumes")
            return {}
        return await self._volumes.mounts_for(instance)

    # Port mapping and firewall

    async def _open_ports(self, info: PodInfo, spec: JobSpec) -> None:
        """Map and open the pod's declared ports; a pod whose ports can't be set up is removed."""
        if self._firewall is None:
            return
        try:
            await self._firewall.open_pod(info.name, pod_ports(info.ip, spec))
        except BaseException:
            await asyncio.shield(self._runtime.remove_pod(info.name))
            raise

    async def _close_ports(self, pod_name: str) -> None:
        if self._firewall is not None:
            await self._firewall.close_pod(pod_name)

    # Container exits and restart policies

    async def _follow_container_exits(self) -> None:
        async for item in self._runtime.container_exits(self.pod_labels):
            if isinstance(item, StreamConnected):
                # Exits may have happened before the stream (re)connected.
                await self._catch_up_with_runtime()
            else:
                await self._on_container_exit(item)

    async def _on_container_exit(self, exit: ContainerExit) -> None:
        local = _key_from_labels(exit.labels)
        if local is None:
            return
        track = self._pods.get(local)
        if track is None and local in self._busy:
            self._early_exits.setdefault(local, []).append(exit)
            return
        if track is None or local in self._busy:
            return  # a pod being stopped or replaced, or not ours
        container = track.containers.get(exit.container_name)
        if container is None or container.container_id != exit.container_id:
            return
        self._handle_exit(track, container, exit.exit_code, time.monotonic() - container.started_at)
        await self._publish(track.pod.key)

    def _handle_exit(
        self, track: PodTrack, container: ContainerTrack, code: int, ran_for: float
    ) -> None:
        container.running = False
        container.exit_code = code
        if container.monitor is not None:
            container.monitor.stop()
        policy = self._restart_policy(track.pod.job, container.name)
        hint = " (killed: out of memory?)" if code == 137 else ""
        # A container stopped for failing its healthcheck failed, whatever its exit code.
        failure = _UNHEALTHY_EXIT_CODE if container.stopped_as_unhealthy else code
        if container.stopped_as_unhealthy:
            container.stopped_as_unhealthy = False
            hint = " (stopped: unhealthy)"
        if not should_restart(policy, failure):
            track.reason = f"container {container.name} exited with code {code}{hint}"
            self._spawn(
                self._record(track.pod.job, track.pod.index, "container-exited", track.reason)
            )
            return
        container.crash_streak = next_crash_streak(container.crash_streak, ran_for)
        delay = restart_delay(container.crash_streak)
        track.reason = (
            f"container {container.name} exited with code {code}{hint}; restarting in {delay:.0f}s"
        )
        self._spawn(
            self._record(track.pod.job, track.pod.index, "container-restarting", track.reason)
        )
        self._schedule_restart(track, container, delay)

    def _schedule_restart(self, track: PodTrack, container: ContainerTrack, delay: float) -> None:
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
            log.warning("%s: %s", track.pod.pod_name, track.reason)
        else:
            container.running = True
            container.exit_code = None
            container.restarts += 1
            container.started_at = time.monotonic()
            track.reason = ""
            if container.monitor is not None:
                container.monitor.start()
        finally:
            container.restart_timer = None
            container.restart_at = None
        await self._publish(track.pod.key)

    # Adopting pods that outlived a previous daemon

    async def _adopt_running_pods(self) -> None:
        """Take over the pods a previous run of this node left, so none is duplicated.

        The previous run's statuses (still in etcd, under the lease this run
        kept) carry each container's restart count, crash streak and pending
        restart, so restart policies and their back-off go on where they were.
        """
        reported = {
            (status.job, status.index): status
            for status in self._mirrors.instance_statuses()
            if status.node == self.node_name
        }
        for info in await self._runtime.list_pods(self.pod_labels):
            local = local_pod_from_labels(info)
            if local is None or local.key in self._pods:
                log.warning("removing unrecognised or duplicate pod %s", info.name)
                await self._runtime.remove_pod(info.name)
                continue
            self._adopt(local, info, reported.get(local.key))
            log.info("adopted pod %s", info.name)
        if self._firewall is not None:
            # Also clears the rules a crashed previous run left for pods now gone.
            await self._firewall.reset(
                {
                    track.pod.pod_name: pod_ports(track.ip, self._spec_of(track.pod.job))
                    for track in self._pods.values()
                }
            )
        await self._catch_up_with_runtime()

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
        self._pods[local.key] = track
        spec = self._spec_of(local.job)
        if spec is not None:
            self._watch_health(track, spec)
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
            self._handle_exit(track, container, info.exit_code or 0, _ran_for(info))
            return
        container.running = False
        container.exit_code = info.exit_code
        if was is not None and was.restart_at is not None:
            # Its restart was pending: keep the time the back-off had set.
            self._schedule_restart(track, container, max(0.0, was.restart_at - time.time()))

    async def _catch_up_with_runtime(self) -> None:
        """Apply restart policies to containers that exited while we were not looking."""
        for info in await self._runtime.list_pods(self.pod_labels):
            local = local_pod_from_labels(info)
            track = self._pods.get(local.key) if local else None
            if track is None or track.pod.key in self._busy:
                continue
            for c in info.containers:
                container = track.containers.get(c.name)
                if container is None or c.state == "running" or container.restart_timer is not None:
                    continue
                if container.running or container.exit_code is None:
                    self._handle_exit(track, container, c.exit_code or 0, _ran_for(c))
            await self._publish(track.pod.key)

    # Healthchecks

    def _watch_health(self, track: PodTrack, spec: JobSpec) -> None:
        """Start checking every running container of the pod that has a healthcheck."""
        for container in track.containers.values():
            container_spec = spec.containers.get(container.name)
            if container_spec is None or container_spec.healthcheck is None:
                continue
            container.monitor = self._health_monitor(track, container, container_spec.healthcheck)
            if container.running:
                container.monitor.start()

    def _health_monitor(
        self, track: PodTrack, container: ContainerTrack, check: HealthCheck
    ) -> HealthMonitor:
        def probe() -> Awaitable[CheckResult]:
            return run_check(check, track.ip, container.container_id, self._runtime.exec)

        def on_change(state: CheckState, result: CheckResult) -> None:
            self._spawn(self._on_health_change(track, container, state, result))

        return HealthMonitor(check, probe, on_change)

    async def _on_health_change(
        self, track: PodTrack, container: ContainerTrack, state: CheckState, result: CheckResult
    ) -> None:
        key = track.pod.key
        if self._pods.get(key) is not track:
            return  # the pod was stopped or replaced meanwhile
        if track.health() is Health.HEALTHY:
            track.reason = ""  # whatever went wrong before is over
        # Publishing first takes an unhealthy instance out of DNS before anything else.
        await self._publish(key)
        if state.health is not Health.UNHEALTHY or container.monitor is None:
            return
        policy = self._restart_policy(track.pod.job, container.name)
        check = container.monitor.check
        failed = (
            f"container {container.name} failed its {check.type} healthcheck "
            f"{state.failures} times in a row; last: {result.output}"
        )
        if should_restart(policy, _UNHEALTHY_EXIT_CODE):
            track.reason = f"{failed}; restarting it (restart: {policy})"
        else:
            track.reason = f"{failed}; left running outside DNS (restart: {policy})"
        log.warning("%s: %s", track.pod.pod_name, track.reason)
        await self._record(track.pod.job, track.pod.index, "container-unhealthy", track.reason)
        if should_restart(policy, _UNHEALTHY_EXIT_CODE):
            container.monitor.stop()
            container.stopped_as_unhealthy = True
            # Its exit then goes through the restart policy and its back-off.
            await self._runtime.stop_container(container.container_id)

    # Reporting

    def _spec_of(self, job_name: str) -> JobSpec | None:
        record = self._mirrors.job(job_name)
        return record.spec if record else None

    def _restart_policy(self, job_name: str, container_name: str) -> RestartPolicy:
        spec = self._spec_of(job_name)
        container = spec.containers.get(container_name) if spec else None
        return container.restart if container else "never"

    async def _publish(self, key: InstanceKey) -> None:
        track = self._pods.get(key)
        if track is None:
            return
        health = track.health()
        await self._publisher.set_health(key, self._healthy_instance(track, health))
        status = InstanceStatus(
            job=track.pod.job,
            index=track.pod.index,
            node=self.node_name,
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
        )
        await self._put_status(status)

    def _healthy_instance(self, track: PodTrack, health: Health) -> HealthyInstance | None:
        """The instance's DNS entry, while it is healthy and has an address."""
        if health is not Health.HEALTHY or not track.ip:
            return None
        spec = self._spec_of(track.pod.job)
        ports = tuple(port for c in spec.containers.values() for port in c.ports) if spec else ()
        return HealthyInstance(track.pod.job, track.pod.index, track.ip, ports)

    async def _publish_state(
        self, instance: DesiredInstance, state: InstanceState, reason: str = ""
    ) -> None:
        await self._put_status(
            InstanceStatus(
                job=instance.job,
                index=instance.index,
                node=self.node_name,
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
            log.warning("could not report %s: %s", instance_name(status.job, status.index), error)

    async def _put_leaving_status(self, status: InstanceStatus) -> None:
        try:
            await self._store.put_leaving_instance_status(status, self._lease_id())
        except StoreUnavailable as error:
            log.warning("could not report %s: %s", instance_name(status.job, status.index), error)

    async def _delete_status(self, key: InstanceKey) -> None:
        try:
            await self._store.delete_instance_status(*key, self.node_name)
        except StoreUnavailable as error:
            log.warning("could not clear the status of %s: %s", instance_name(*key), error)

    async def _record(self, job: str, index: int, kind: str, message: str) -> None:
        await self._store.record_event(
            Event(
                time=time.time(),
                kind=kind,
                message=message,
                job=job,
                instance=instance_name(job, index),
                node=self.node_name,
            )
        )


def _key_from_labels(labels: dict[str, str]) -> InstanceKey | None:
    try:
        return labels[LABEL_JOB], int(labels[LABEL_INDEX])
    except (KeyError, ValueError):
        return None


def _ran_for(info: ContainerInfo) -> float:
    """How long a container that exited had run, from podman's times (0 if unknown)."""
    if info.started_at is None or info.finished_at is None:
        return 0.0
    return max(0.0, (info.finished_at - info.started_at).total_seconds())


def _monotonic_from(started_at: datetime | None) -> float:
    """A wall-clock start time on the monotonic clock the agent measures runs with."""
    now = time.monotonic()
    if started_at is None:
        return now
    return now - max(0.0, time.time() - started_at.timestamp())


def _stop_background_work(track: PodTrack) -> None:
    """Cancel the pod's pending restarts and healthchecks."""
    for container in track.containers.values():
        if container.restart_timer is not None:
            container.restart_timer.cancel()
            container.restart_timer = None
        if container.monitor is not None:
            container.monitor.stop()
