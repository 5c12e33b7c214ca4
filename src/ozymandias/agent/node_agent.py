"""The per-node agent: makes the pods on this node match the schedules in etcd.

This file is the reconcile loop and the changes it makes to one instance
(start, stop, replace with a drain). The rest of the work sits in one file
per concern, like the hooks of Nomad's task runner:

    pod_plan.py          what to create for an instance, and reading pods back (pure)
    local_plan.py        which pods to start, stop or replace (pure)
    restarts.py          container exits and restart policies, with back-off
    health_following.py  healthchecks, and restarting an unhealthy container
    container_execs.py   commands run in a container for `ozy exec`
    adoption.py          taking over the pods a previous daemon left
    reporting.py         statuses, DNS entries and events; `withdraw` before a pod goes
    tracks.py            what the parts share: the tracked pods and busy instances

Every part is typed against `runtime.interface.ContainerRuntime`, so all of
it runs in unit tests against a fake runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from ozymandias.agent.adoption import Adoption
from ozymandias.agent.container_execs import ContainerExecs
from ozymandias.agent.health_following import HealthFollower
from ozymandias.agent.image_pulls import ImagePulls, pull_retry_delay
from ozymandias.agent.job_dependencies import unmet_dependency
from ozymandias.agent.local_plan import (
    DesiredInstance,
    InstanceKey,
    LocalPod,
    StartBackOff,
    desired_instance,
    desired_on_node,
    out_of_step,
    plan_local_changes,
    waiting_out_back_off,
)
from ozymandias.agent.log_following import LogRequest, container_logs
from ozymandias.agent.pod_inputs import PodInputs
from ozymandias.agent.pod_plan import pod_name, pod_plan, pod_ports
from ozymandias.agent.reporting import DnsPublishing, Reporter, StatusStore, log_fields
from ozymandias.agent.restart_policy import restart_delay
from ozymandias.agent.restarts import Restarts
from ozymandias.agent.secret_delivery import SecretDelivery
from ozymandias.agent.tracks import AgentState, ContainerTrack, PodTrack
from ozymandias.agent.volumes import PodVolumes
from ozymandias.cluster.records import InstanceState, instance_name
from ozymandias.network.firewall import PodFirewall
from ozymandias.registries.access import RegistryAccessUnavailable
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ImagePullFailed, PodInfo, RuntimeUnavailable
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.mirror import any_changed

log = logging.getLogger(__name__)

# How long a healthy pod that is being stopped keeps serving after it leaves
# DNS and the ingress: ample for every node's proxy to hear of it (a watch
# event, then a runtime API call), short enough not to slow a scale-down.
DRAIN_SECONDS = 1.0
# How often held starts look again at their dependencies' statuses (in the mirrors).
DEPENDENCY_RECHECK_SECONDS = 1.0


class InstanceBusy(Exception):
    """A change to the instance is in flight: it cannot be restarted now."""


class NodeAgent:
    def __init__(
        self,
        node_name: str,
        runtime: ContainerRuntime,
        store: StatusStore,
        mirrors: ClusterMirrors,
        lease_id: Callable[[], int],
        publisher: DnsPublishing,
        network: str | None = None,
        dns_servers: list[str] | None = None,
        firewall: PodFirewall | None = None,
        volumes: PodVolumes | None = None,
        secrets: SecretDelivery | None = None,
        pulls: ImagePulls | None = None,
        dns_domain: str = "cluster.local",
    ) -> None:
        """`firewall`, if given, maps and filters each pod's ports while the pod runs;
        `volumes` and `secrets`, if given, provide the pods' volumes and secrets (a job
        with volumes or secrets fails without); `pulls` pulls images before a start
        (anonymously if not given)."""
        self.node_name = node_name
        self._runtime = runtime
        self._mirrors = mirrors
        self._network = network
        self._dns_servers = dns_servers
        self._dns_domain = dns_domain
        # Starts held back by dependsOn, with the reason last reported for each.
        self._held: dict[InstanceKey, str] = {}
        self._firewall = firewall
        self._volumes = volumes
        self._inputs = PodInputs(node_name, volumes, secrets)
        self._pulls = pulls or ImagePulls(runtime, None)
        self._state = AgentState(node_name, mirrors)
        self._reporter = Reporter(self._state, store, lease_id, publisher)
        self._restarts = Restarts(self._state, runtime, self._reporter)
        self._health = HealthFollower(self._state, runtime, self._reporter)
        self._adoption = Adoption(self._state, runtime, self._restarts, self._health, firewall)
        self.execs = ContainerExecs(self._state, runtime)
        # Pods that failed to start, and when each may be tried again (monotonic).
        self._start_back_offs: dict[InstanceKey, StartBackOff] = {}
        self._wake = asyncio.Event()
        self._unreleasable: set[InstanceKey] = set()  # volumes a release failed to remove

    @property
    def pod_labels(self) -> dict[str, str]:
        return self._state.pod_labels

    def pod_states(self) -> list[tuple[str, str]]:
        """The job and state of each pod this node runs (for `ozy_node_instances`)."""
        return [(track.pod.job, track.state().value) for track in self._state.pods.values()]

    async def run(self) -> None:
        """Adopt what already runs here, then keep reconciling until cancelled."""
        await self._mirrors.wait_synced()
        await self._adoption.adopt_running_pods()
        self._inputs.keep_only([track.pod.pod_name for track in self._state.pods.values()])
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._restarts.follow_exits())
                group.create_task(self._wake_on_change())
                group.create_task(self._reconcile_forever())
        finally:
            for task in list(self._state.tasks):
                task.cancel()
            for track in self._state.pods.values():
                track.stop_background_work()

    async def stop_all_pods(self, *, keep_local_volumes: bool = False) -> None:
        """Stop every pod of this node: used when the node leaves the cluster.

        Its local volumes go too, unless `keep_local_volumes`: a node that comes
        back under its name (`ozy up` after `ozy down`) runs the same instances.
        """
        for track in self._state.pods.values():
            track.stop_background_work()
        await self._reporter.withdraw_all()
        # By label, not only the tracked pods: one being drained or started is not tracked.
        pod_names = {track.pod.pod_name for track in self._state.pods.values()}
        with contextlib.suppress(RuntimeUnavailable):
            pod_names |= {
                info.name for info in await self._runtime.list_pods(self._state.pod_labels)
            }
        await asyncio.gather(
            *(self._runtime.remove_pod(name) for name in sorted(pod_names)),
            return_exceptions=True,
        )
        if self._volumes is not None and keep_local_volumes:
            await self._volumes.keep_all()
        elif self._volumes is not None:
            # The node leaves for good: its instances will start afresh elsewhere.
            await self._volumes.remove_all()
        self._inputs.remove_all()
        if self._firewall is not None:
            await self._firewall.reset({})
        self._state.pods.clear()

    def has_container(self, job: str, index: int, container: str) -> bool:
        """Whether this node runs a pod of the instance with that container (for its logs)."""
        track = self._state.pods.get((job, index))
        return track is not None and container in track.containers

    async def logs(
        self, job: str, index: int, container: str, request: LogRequest
    ) -> AsyncIterator[bytes]:
        """A container's output, for the API's logs endpoint (check `has_container` first);
        raises NoPreviousRun for a `previous` run there is not."""
        return await container_logs(self._state, self._runtime, (job, index), container, request)

    async def restart_instance(self, job: str, index: int) -> float:
        """Replace the instance's pod by a new one of the same version (`ozy restart INSTANCE`).

        Returns once its old pod is gone (withdrawn, drained, removed), with the
        time then: whatever this node reports on the instance at or after it is
        about the new pod. An instance without a pod (its start failed) is started now,
        without waiting out its back-off. InstanceBusy while a change to it is in
        flight; LookupError if this node does not run it.
        """
        key = (job, index)
        instance = self._desired_instance(key)
        if instance is None:
            raise LookupError(f"{instance_name(job, index)} is not placed on {self.node_name}")
        if key in self._state.busy:
            raise InstanceBusy(f"{instance_name(job, index)} is being started, stopped or replaced")
        # Launched before any await, so no other change to it can begin in between.
        gone: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        track = self._state.pods.get(key)
        if track is None:
            self._start_back_offs.pop(key, None)
            self._wake.set()
            gone.set_result(time.time())
        else:
            self._launch(key, self._replace(track.pod, instance, gone))
        await self._reporter.record(
            job, index, "instance-restarting", f"restart asked for; new pod on {self.node_name}"
        )
        return await gone

    # Reconciling

    async def _wake_on_change(self) -> None:
        # Statuses (frequent, cluster-wide) need not wake the agent: what it
        # runs is decided by the jobs and schedules alone.
        jobs, schedules = self._mirrors.jobs, self._mirrors.schedules
        while True:
            await any_changed([(jobs, jobs.revision), (schedules, schedules.revision)])
            self._wake.set()

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
        if lagging := out_of_step(
            self._mirrors.jobs.items.values(), self._mirrors.schedules.items.values()
        ):
            # The lagging mirror's change wakes the agent again in a moment.
            log.debug("waiting for the mirrors to agree on %s", ", ".join(lagging))
            return
        desired = self._desired()
        running = [track.pod for track in self._state.pods.values()]
        for key in self._start_back_offs.keys() - desired.keys():
            del self._start_back_offs[key]
        now = time.monotonic()
        waiting = waiting_out_back_off(desired, self._start_back_offs, now)
        if waiting:
            # Re-armed on every pass: a timer may fire a moment early on the loop's clock.
            due = min(self._start_back_offs[key].retry_at for key in waiting)
            asyncio.get_running_loop().call_later(due - now + 0.01, self._wake.set)
        changes = plan_local_changes(desired, running, self._state.busy | waiting)
        for instance in self._hold_for_dependencies(changes.start, desired):
            self._launch(instance.key, self._start(instance))
        for pod in changes.stop:
            self._launch(pod.key, self._stop(pod))
        for pod, instance in changes.replace:
            self._launch(pod.key, self._replace(pod, instance))
        self._sweep_volumes(desired)
        self._forget_stale_statuses(desired)

    def _hold_for_dependencies(
        self, starts: list[DesiredInstance], desired: dict[InstanceKey, DesiredInstance]
    ) -> list[DesiredInstance]:
        """The starts whose jobs' dependencies hold; the others are reported `waiting`, once
        per reason (a held instance stays in `_held` while its report is written).

        Statuses do not wake the agent (see _wake_on_change), so while any start
        is held it looks again in a second, in its own mirrors: no etcd read.
        """
        ready: list[DesiredInstance] = []
        for instance in starts:
            reason = unmet_dependency(
                instance.spec, self._mirrors.job, self._mirrors.instance_statuses
            )
            if reason is None:
                self._held.pop(instance.key, None)
                ready.append(instance)
            elif self._held.get(instance.key) != reason:
                self._held[instance.key] = reason
                self._launch(
                    instance.key,
                    self._reporter.publish_state(instance, InstanceState.WAITING, reason),
                )
        for key in self._held.keys() - desired.keys():
            del self._held[key]
        if self._held:
            asyncio.get_running_loop().call_later(DEPENDENCY_RECHECK_SECONDS, self._wake.set)
        return ready

    def _launch(self, key: InstanceKey, work: Coroutine[Any, Any, None]) -> None:
        """Run one change to an instance in the background, one change at a time."""
        self._state.busy.add(key)

        async def run_then_release() -> None:
            try:
                await work
            except Exception:
                log.exception("change to %s failed", instance_name(*key), extra=log_fields(*key))
            finally:
                self._state.busy.discard(key)
                self._state.early_exits.pop(key, None)
                self._wake.set()

        self._state.spawn(run_then_release())

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
                or key in self._state.pods
                or key in self._state.busy
                or key in self._unreleasable
            ):
                continue
            log.info(
                "releasing the local volumes of %s: no instance here",
                instance_name(*key),
                extra=log_fields(*key),
            )
            self._state.busy.add(key)
            self._state.spawn(self._release_unowned(volumes, key))

    async def _release_unowned(self, volumes: PodVolumes, key: InstanceKey) -> None:
        # Unlike other changes, a release wakes no reconcile when it ends: one
        # that fails (or leaves something behind) must not be retried in a loop.
        try:
            await volumes.release(*key)
        except Exception as error:
            log.error(
                "could not release the local volumes of %s: %s",
                instance_name(*key),
                error,
                extra=log_fields(*key),
            )
        finally:
            self._state.busy.discard(key)
        if key in volumes.instances_with_volumes():
            log.error(
                "the local volumes of %s are still there; leaving them until the node restarts",
                instance_name(*key),
                extra=log_fields(*key),
            )
            self._unreleasable.add(key)

    def _forget_stale_statuses(self, desired: dict[InstanceKey, DesiredInstance]) -> None:
        """Delete status records this node wrote for instances it no longer has."""
        for status in self._mirrors.compact_statuses():
            key = (status.job, status.index)
            if (
                status.node == self.node_name
                and key not in desired
                and key not in self._state.pods
                and key not in self._state.busy
            ):
                self._state.spawn(self._reporter.delete_status(key))

    # Changes to one instance

    async def _start(self, instance: DesiredInstance) -> None:
        key = instance.key
        await self._reporter.publish_state(instance, InstanceState.STARTING)
        name = pod_name(self.node_name, instance.job, instance.index)
        try:

            async def pulling(reason: str) -> None:
                await self._reporter.publish_state(instance, InstanceState.PULLING, reason)

            await self._pulls.ready(instance, pulling)
            inputs = await self._inputs.prepare(instance, name)
            info = await self._runtime.run_pod(
                pod_plan(
                    self.node_name,
                    instance,
                    self._network,
                    self._dns_servers,
                    inputs.mounts,
                    inputs.environment,
                    self._dns_domain,
                )
            )
            await self._open_ports(info, instance.spec)
        except Exception as error:
            self._inputs.pod_gone(name)
            previous = self._start_back_offs.get(key)
            same_version = previous is not None and previous.version == instance.version
            streak = previous.streak + 1 if previous is not None and same_version else 1
            pull_failed = isinstance(error, ImagePullFailed | RegistryAccessUnavailable)
            delay = pull_retry_delay(streak) if pull_failed else restart_delay(streak)
            # Not a sleep: the instance is free meanwhile, so a new version of
            # the spec (the fix) starts at once instead of after this back-off.
            self._start_back_offs[key] = StartBackOff(
                instance.version, streak, time.monotonic() + delay
            )
            reason = f"{error}; retrying in {delay:.0f}s"
            await self._reporter.publish_state(instance, InstanceState.FAILED, reason)
            await self._reporter.record(
                instance.job,
                instance.index,
                "instance-failed",
                f"failed to start: {reason}",
                level=logging.WARNING,
            )
            return
        self._start_back_offs.pop(key, None)
        local = LocalPod(info.name, instance.job, instance.index, instance.version)
        track = PodTrack(
            local, info.ip, {c.name: ContainerTrack(c.name, c.id) for c in info.containers}
        )
        self._state.pods[key] = track
        self._health.watch(track, instance.spec)
        exited = {c.id: c.exit_code or 0 for c in info.containers if c.state != "running"}
        exited.update({e.container_id: e.exit_code for e in self._state.early_exits.pop(key, [])})
        for container in track.containers.values():
            if container.container_id in exited:
                self._restarts.handle_exit(track, container, exited[container.container_id], 0.0)
        await self._reporter.publish(key)
        await self._reporter.record(
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
            await self._reporter.delete_status(pod.key)
        await self._reporter.record(
            pod.job, pod.index, "instance-stopped", f"stopped on {self.node_name}"
        )

    async def _replace(
        self, pod: LocalPod, instance: DesiredInstance, gone: asyncio.Future[float] | None = None
    ) -> None:
        """`gone`, if given, is told the time once the old pod is down (or failed to go),
        before anything is reported about the new one."""
        try:
            await self._take_down(pod)
        finally:
            if gone is not None:
                gone.set_result(time.time())
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
        track = self._state.pods.pop(pod.key, None)
        if track is not None:
            track.stop_background_work()
        if await self._reporter.withdraw(pod, track):
            await asyncio.sleep(DRAIN_SECONDS)
        await self._runtime.remove_pod(pod.pod_name)
        self._inputs.pod_gone(pod.pod_name)
        await self._close_ports(pod.pod_name)

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
