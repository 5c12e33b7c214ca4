"""The node agent's reconcile, restarts, adoption and drain, against in-memory fakes.

The agent is typed against `ContainerRuntime` and two small store and DNS
Protocols; here an in-memory runtime, an in-memory etcd (behind the real
mirrors) and recording fakes stand in, so these run in milliseconds. The
integration tests run the same agent against podman and etcd.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ozymandias.agent import node_agent
from ozymandias.agent.node_agent import InstanceBusy, NodeAgent
from ozymandias.agent.pod_plan import LABEL_INDEX, LABEL_JOB, LABEL_NODE, LABEL_VERSION
from ozymandias.cluster.records import (
    ContainerStatus,
    Event,
    Health,
    InstanceState,
    InstanceStatus,
    JobRecord,
    Schedule,
)
from ozymandias.dns.skydns_layout import HealthyInstance
from ozymandias.runtime.models import (
    ContainerExit,
    ContainerInfo,
    ContainerRun,
    ExecExit,
    ExecOutput,
    ImagePullFailed,
    LogEntry,
    PodInfo,
    PodmanError,
    PodPlan,
    RegistryAccess,
    StreamConnected,
)
from ozymandias.runtime.pull_reasons import pull_reason
from ozymandias.spec.loader import job_from_data
from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import KeyValue, WatchEvent

NODE = "n1"


class MemoryEtcd:
    """Just enough of `Etcd` for the mirrors: scan and watch, over a dict."""

    def __init__(self) -> None:
        self.data: dict[bytes, tuple[bytes, int]] = {}
        self.revision = 1
        self.log: list[WatchEvent] = []
        self._changed = asyncio.Condition()

    async def put(self, key: bytes, value: bytes) -> None:
        async with self._changed:
            self.revision += 1
            self.data[key] = (value, self.revision)
            self.log.append(WatchEvent(key, value, self.revision))
            self._changed.notify_all()

    def _longer_than(self, length: int) -> bool:
        return len(self.log) > length

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        pairs = [
            KeyValue(key, value, revision, 0)
            for key, (value, revision) in sorted(self.data.items())
            if key.startswith(prefix)
        ]
        return self.revision, pairs

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        seen = 0
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._longer_than, seen))
                events, seen = self.log[seen:], len(self.log)
            for event in events:
                if event.key.startswith(prefix) and event.mod_revision >= start_revision:
                    yield event


class FakeRuntime:
    """Pods in a dict; exits go to the agent's event stream, as podman's events do."""

    def __init__(self) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.missing_images: set[str] = set()  # pulled fine, yet the pod does not start
        self.local_images: set[str] = {"img", "broken"}  # present before any pull
        self.unpullable: dict[str, str] = {}  # image -> podman's error for its pull
        self.pulls: list[str] = []  # images pulled, one entry per pull
        self.pull_gate: asyncio.Event | None = None  # if given, pulls wait for it
        self._pulls_in_flight: dict[str, asyncio.Task[None]] = {}
        self.started: list[str] = []  # container ids, each time one is (re)started
        self.removed: list[str] = []
        self.logged: dict[str, list[LogEntry]] = {}  # what each container id wrote
        self.runs: dict[str, list[ContainerRun]] = {}  # each container id's runs
        self._exits: asyncio.Queue[ContainerExit | StreamConnected] = asyncio.Queue()
        self._ids = itertools.count(1)

    async def list_pods(self, label_filter: dict[str, str]) -> list[PodInfo]:
        return [
            pod
            for pod in self.pods.values()
            if all(pod.labels.get(k) == v for k, v in label_filter.items())
        ]

    async def run_pod(self, plan: PodPlan) -> PodInfo:
        containers = [c for wave in plan.start_waves for c in wave]
        for container in containers:
            if container.image in self.missing_images:
                raise PodmanError(404, f"image {container.image} is not present")
        pod = PodInfo(
            plan.pod_name,
            dict(plan.labels),
            f"10.213.0.{len(self.pods) + 2}",
            [self._container(plan.labels, c.name) for c in containers],
        )
        self.pods[pod.name] = pod
        self.started += [c.id for c in pod.containers]
        return pod

    def add_pod(self, labels: dict[str, str], name: str, states: dict[str, int | None]) -> None:
        """A pod a previous daemon left: containers running (None) or exited with a code."""
        pod = PodInfo(name, labels, "10.213.0.99", [])
        self.pods[name] = pod
        for container_name, code in states.items():
            container = self._container(labels, container_name)
            pod.containers.append(container)
            if code is not None:
                self._update(container.id, "exited", code)

    def exit(
        self, pod_name: str, container_name: str, code: int, *, oom_killed: bool = False
    ) -> None:
        """A container of a pod stops by itself (`oom_killed`: the kernel says it ran out)."""
        pod = self.pods[pod_name]
        container = next(c for c in pod.containers if c.name == container_name)
        self._update(container.id, "exited", code)
        self._exits.put_nowait(
            ContainerExit(container.id, pod_name, container_name, code, pod.labels, oom_killed)
        )

    async def image_present(self, image: str) -> bool:
        return image in self.local_images

    async def pull_image(
        self,
        image: str,
        access: RegistryAccess,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        # One pull for concurrent callers, as PodmanRuntime's single flight.
        flight = self._pulls_in_flight.get(image)
        if flight is None:
            flight = asyncio.create_task(self._pull(image))
            self._pulls_in_flight[image] = flight
            flight.add_done_callback(lambda _: self._pulls_in_flight.pop(image, None))
        await asyncio.shield(flight)

    async def _pull(self, image: str) -> None:
        self.pulls.append(image)
        if self.pull_gate is not None:
            await self.pull_gate.wait()
        if image in self.unpullable:
            raise ImagePullFailed(pull_reason(image, self.unpullable[image]))
        self.local_images.add(image)

    async def start_container(self, container_id: str) -> None:
        self._update(container_id, "running", None)
        self.started.append(container_id)

    async def stop_container(self, container_id: str, *, stop_timeout: int | None = None) -> None:
        for pod in self.pods.values():
            for container in pod.containers:
                if container.id == container_id:
                    self.exit(pod.name, container.name, 143)

    async def remove_pod(self, pod_name: str, *, stop_timeout: int | None = None) -> None:
        self.pods.pop(pod_name, None)
        self.removed.append(pod_name)

    async def container_exits(
        self, label_filter: dict[str, str]
    ) -> AsyncIterator[ContainerExit | StreamConnected]:
        yield StreamConnected()
        while True:
            yield await self._exits.get()

    async def exec(
        self,
        container_id: str,
        command: list[str],
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[int, str]:
        return 0, ""

    async def exec_stream(
        self,
        container_id: str,
        command: list[str],
        timeout: float,  # noqa: ASYNC109
    ) -> AsyncIterator[ExecOutput | ExecExit]:
        yield ExecExit(0)

    def logs(
        self,
        container_id: str,
        *,
        follow: bool,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[LogEntry]:
        return _entries(self.logged.get(container_id, []), tail, since, until)

    async def container_runs(self, container_id: str) -> list[ContainerRun]:
        return self.runs.get(container_id, [])

    def _container(self, labels: dict[str, str], name: str) -> ContainerInfo:
        return ContainerInfo(
            f"c{next(self._ids)}",
            name,
            "running",
            None,
            started_at=datetime.now(UTC),
            labels={**labels, "ozy.container": name},
        )

    def _update(self, container_id: str, state: str, exit_code: int | None) -> None:
        now = datetime.now(UTC)
        for pod in self.pods.values():
            for i, c in enumerate(pod.containers):
                if c.id == container_id:
                    exited = state == "exited"
                    pod.containers[i] = dataclasses.replace(
                        c,
                        state=state,
                        exit_code=exit_code,
                        started_at=c.started_at if exited else now,
                        finished_at=now if exited else c.finished_at,
                    )


async def _entries(
    logged: list[LogEntry], tail: int | None, since: datetime | None, until: datetime | None
) -> AsyncIterator[LogEntry]:
    """Podman's choice of log entries: after `since`, before `until`, the last `tail`."""
    chosen = [
        e for e in logged if (since is None or e.time > since) and (until is None or e.time < until)
    ]
    for entry in chosen if tail is None else chosen[len(chosen) - tail :]:
        yield entry


class RecordingStore:
    """The agent's writes: latest status per instance, leaving statuses, events."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, int], InstanceStatus] = {}
        self.leaving: list[InstanceStatus] = []
        self.events: list[Event] = []

    async def put_instance_status(self, status: InstanceStatus, lease_id: int) -> None:
        self.statuses[(status.job, status.index)] = status

    async def put_leaving_instance_status(self, status: InstanceStatus, lease_id: int) -> None:
        self.leaving.append(status)

    async def delete_instance_status(self, job_name: str, index: int, node_name: str) -> None:
        self.statuses.pop((job_name, index), None)

    async def record_event(self, event: Event) -> None:
        self.events.append(event)


class RecordingDns:
    def __init__(self, runtime: FakeRuntime) -> None:
        self.healthy: dict[tuple[str, int], HealthyInstance] = {}
        self.withdrawn_while_running: list[tuple[str, int]] = []
        self._runtime = runtime

    async def set_health(self, key: tuple[str, int], instance: HealthyInstance | None) -> None:
        if instance is not None:
            self.healthy[key] = instance
        elif self.healthy.pop(key, None) is not None:
            running = [p for p in self._runtime.pods.values() if p.labels[LABEL_JOB] == key[0]]
            if running:
                self.withdrawn_while_running.append(key)

    async def withdraw_all(self) -> None:
        self.healthy.clear()


class Cluster:
    """One agent on node n1, with everything it talks to faked in memory."""

    def __init__(self) -> None:
        self.etcd = MemoryEtcd()
        self.runtime = FakeRuntime()
        self.store = RecordingStore()
        self.dns = RecordingDns(self.runtime)
        self.mirrors = ClusterStore(self.etcd).mirrors()  # type: ignore[arg-type]
        self.agent = NodeAgent(NODE, self.runtime, self.store, self.mirrors, lambda: 1, self.dns)

    async def put_job(
        self,
        name: str,
        image: str = "img",
        version: int = 1,
        restart: str = "never",
        count: int = 1,
        pull: str | None = None,
    ) -> None:
        container: dict[str, Any] = {"image": image, "restart": restart}
        if pull is not None:
            container["pull"] = pull
        spec = job_from_data({"name": name, "containers": {"app": container}})
        await self.etcd.put(keys.job(name), JobRecord(spec=spec, version=version).to_json())
        placements = dict.fromkeys(range(count), NODE)
        await self.etcd.put(
            keys.schedule(name), Schedule(job=name, placements=placements).to_json()
        )

    async def put_status(self, status: InstanceStatus) -> None:
        await self.etcd.put(keys.instance(status.job, status.index), status.to_json())

    def status(self, job: str, index: int = 0) -> InstanceStatus | None:
        return self.store.statuses.get((job, index))


def labels(job: str, index: int = 0, version: int = 1) -> dict[str, str]:
    return {LABEL_NODE: NODE, LABEL_JOB: job, LABEL_INDEX: str(index), LABEL_VERSION: str(version)}


async def eventually(condition: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    """Wait for `condition` with a generous deadline, yielding to the agent meanwhile."""
    async with asyncio.timeout(within):
        # Polled: the conditions read several fakes, which signal nothing.
        while not (value := condition()):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert value, what
    return value


@pytest.fixture
def quick_back_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Back-offs of 0.2 s, doubling, so restart tests take well under a second."""

    def delay(streak: int) -> float:
        return 0.2 * 2 ** (streak - 1) if streak > 0 else 0.0

    for module in ("ozymandias.agent.restarts", "ozymandias.agent.node_agent"):
        monkeypatch.setattr(f"{module}.restart_delay", delay)
    monkeypatch.setattr(node_agent, "DRAIN_SECONDS", 0.05)
    yield


@contextlib.asynccontextmanager
async def running(cluster: Cluster) -> AsyncIterator[Cluster]:
    tasks = [asyncio.create_task(m.run()) for m in cluster.mirrors.all()]
    tasks.append(asyncio.create_task(cluster.agent.run()))
    try:
        yield cluster
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def state_is(
    cluster: Cluster, job: str, state: InstanceState, version: int = 1
) -> Callable[[], bool]:
    def check() -> bool:
        status = cluster.status(job)
        return status is not None and status.state is state and status.spec_version == version

    return check


async def test_a_desired_instance_is_started_reported_and_published_in_dns(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("web")
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 running")
        await eventually(lambda: ("web", 0) in cluster.dns.healthy, "web-0 in DNS")
    assert [p.labels for p in cluster.runtime.pods.values()] == [labels("web")]
    assert [e.kind for e in cluster.store.events][:1] == ["instance-started"]


async def test_a_failed_start_backs_off_but_a_new_version_starts_at_once(
    quick_back_off: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = Cluster()
    cluster.runtime.missing_images.add("broken")
    await cluster.put_job("fixme", image="broken")
    async with running(cluster):
        await eventually(
            lambda: sum(e.kind == "instance-failed" for e in cluster.store.events) >= 3,
            "three failed starts, each after its back-off",
        )
        reasons = [e.message for e in cluster.store.events if e.kind == "instance-failed"]
        assert [r.rsplit("retrying in ", 1)[1] for r in reasons[:3]] == ["0s", "0s", "1s"]
        # Now the next try of version 1 is a minute away: the fix must not wait for it.
        monkeypatch.setattr("ozymandias.agent.node_agent.restart_delay", lambda _: 60.0)
        await eventually(
            lambda: (
                "retrying in 60s"
                in (
                    cluster.status("fixme")
                    or InstanceStatus(
                        job="", index=0, node="", state=InstanceState.PENDING, updated_at=0
                    )
                ).reason
            ),
            "a minute-long back-off",
        )
        await cluster.put_job("fixme", image="img", version=2)
        await eventually(state_is(cluster, "fixme", InstanceState.RUNNING, 2), "version 2 runs")


def restarted(cluster: Cluster, times: int) -> bool:
    status = cluster.status("crashy")
    return status is not None and status.restarts == times and status.state is InstanceState.RUNNING


async def test_an_exit_restarts_with_the_policy_and_a_growing_back_off(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("crashy", restart="on-failure")
    async with running(cluster):
        await eventually(state_is(cluster, "crashy", InstanceState.RUNNING), "running")
        pod = next(iter(cluster.runtime.pods))
        for restarts in (1, 2):
            cluster.runtime.exit(pod, "app", 1)
            await eventually(functools.partial(restarted, cluster, restarts), f"restart {restarts}")
        cluster.runtime.exit(pod, "app", 0)  # on-failure: a clean exit stays down
        await eventually(state_is(cluster, "crashy", InstanceState.COMPLETED), "completed")
    messages = [e.message for e in cluster.store.events if e.kind == "container-restarting"]
    assert [m.rsplit("restarting in ", 1)[1] for m in messages] == ["0s", "0s"]
    assert cluster.status("crashy").restarts == 2  # type: ignore[union-attr]


async def test_on_failure_gives_up_after_its_max_retries(quick_back_off: None) -> None:
    cluster = Cluster()
    await cluster.put_job("crashy", restart="on-failure:2")
    async with running(cluster):
        await eventually(state_is(cluster, "crashy", InstanceState.RUNNING), "running")
        pod = next(iter(cluster.runtime.pods))
        for restarts in (1, 2):
            cluster.runtime.exit(pod, "app", 1)
            await eventually(functools.partial(restarted, cluster, restarts), f"restart {restarts}")
        cluster.runtime.exit(pod, "app", 1)
        await eventually(state_is(cluster, "crashy", InstanceState.FAILED), "stays exited")
        status = cluster.status("crashy")
        assert status is not None and status.restarts == 2
        assert status.reason == (
            "container app exited with code 1; not restarted: it was restarted 2 times"
            " (max_retries)"
        )
    exits = [e.message for e in cluster.store.events if e.kind == "container-exited"]
    assert exits == [status.reason]


async def test_an_oom_kill_is_said_only_when_the_runtime_saw_it(quick_back_off: None) -> None:
    cluster = Cluster()
    await cluster.put_job("crashy", restart="on-failure")
    async with running(cluster):
        await eventually(state_is(cluster, "crashy", InstanceState.RUNNING), "running")
        pod = next(iter(cluster.runtime.pods))
        cluster.runtime.exit(pod, "app", 137, oom_killed=True)
        await eventually(functools.partial(restarted, cluster, 1), "restarted after the OOM kill")
        cluster.runtime.exit(pod, "app", 137)  # a plain SIGKILL
        await eventually(functools.partial(restarted, cluster, 2), "restarted after the kill")
    messages = [e.message for e in cluster.store.events if e.kind == "container-restarting"]
    assert [m.rsplit("; restarting in ", 1)[0] for m in messages] == [
        "container app was killed: out of memory (limit 256M)",
        "container app exited with code 137",
    ]


async def test_adoption_restarts_an_exit_no_daemon_saw_and_counts_on(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("survivor", restart="always")
    # A previous run of this node left the pod, its container exited since.
    cluster.runtime.add_pod(labels("survivor"), f"ozy-{NODE}-survivor-0", {"app": 137})
    await cluster.put_status(
        InstanceStatus(
            job="survivor",
            index=0,
            node=NODE,
            state=InstanceState.RUNNING,
            restarts=4,
            spec_version=1,
            containers=[ContainerStatus(name="app", state="running", restarts=4, crash_streak=2)],
            updated_at=datetime.now(UTC).timestamp() - 60,
        )
    )
    async with running(cluster):
        await eventually(
            lambda: (
                (s := cluster.status("survivor")) is not None
                and s.restarts == 5
                and s.state is InstanceState.RUNNING
            ),
            "restarted by the policy, counted on from 4",
        )
    assert list(cluster.runtime.pods) == [f"ozy-{NODE}-survivor-0"]  # adopted, not duplicated
    restarting = [e.message for e in cluster.store.events if e.kind == "container-restarting"]
    # Podman's listing does not say why it exited: 137 alone is no OOM kill.
    assert restarting and restarting[0].startswith("container app exited with code 137;")


async def test_a_pod_nobody_wants_is_removed_and_a_duplicate_is_not_kept(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("web")
    cluster.runtime.add_pod(labels("gone"), f"ozy-{NODE}-gone-0", {"app": None})
    cluster.runtime.add_pod({LABEL_NODE: NODE}, "unlabelled", {"app": None})
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 running")
        await eventually(lambda: f"ozy-{NODE}-gone-0" in cluster.runtime.removed, "gone removed")
    assert "unlabelled" in cluster.runtime.removed
    assert [p.labels[LABEL_JOB] for p in cluster.runtime.pods.values()] == ["web"]


async def test_scaling_away_a_healthy_instance_withdraws_it_before_removing_its_pod(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("web", count=2)
    async with running(cluster):
        await eventually(lambda: len(cluster.dns.healthy) == 2, "both instances in DNS")
        await cluster.put_job("web", count=1)
        await eventually(lambda: len(cluster.runtime.pods) == 1, "web-1 removed")
        await eventually(lambda: cluster.status("web", 1) is None, "its status cleared")
    assert cluster.dns.withdrawn_while_running == [("web", 1)]  # out of DNS while it still ran
    assert [(s.index, s.state, s.health) for s in cluster.store.leaving] == [
        (1, InstanceState.STOPPING, Health.UNHEALTHY)  # which takes it out of every ingress
    ]


async def test_the_agent_waits_for_nothing_it_does_not_need(quick_back_off: None) -> None:
    """A job with no placement on this node runs nothing here."""
    cluster = Cluster()
    spec = job_from_data({"name": "elsewhere", "containers": {"app": {"image": "img"}}})
    await cluster.etcd.put(keys.job("elsewhere"), JobRecord(spec=spec, version=1).to_json())
    await cluster.etcd.put(
        keys.schedule("elsewhere"),
        Schedule(job="elsewhere", placements={0: "n2"}).to_json(),
    )
    await cluster.put_job("web")
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 running")
    assert cluster.status("elsewhere") is None
    assert all(p.labels[LABEL_JOB] == "web" for p in cluster.runtime.pods.values())


def container_ids(cluster: Cluster) -> dict[str, str]:
    return {pod.labels[LABEL_INDEX]: pod.containers[0].id for pod in cluster.runtime.pods.values()}


async def test_restarting_one_instance_replaces_its_pod_and_leaves_the_others(
    quick_back_off: None,
) -> None:
    cluster = Cluster()
    await cluster.put_job("web", count=2)
    async with running(cluster):
        await eventually(lambda: len(cluster.dns.healthy) == 2, "both instances in DNS")
        before = container_ids(cluster)
        restarted_at = await cluster.agent.restart_instance("web", 0)
        # When it answers, the old pod is gone: no report after then is about it.
        assert before["0"] not in container_ids(cluster).values()
        assert cluster.dns.withdrawn_while_running == [("web", 0)]
        await eventually(lambda: len(container_ids(cluster)) == 2, "web-0 started anew")
        await eventually(
            lambda: (s := cluster.status("web")) is not None and s.updated_at >= restarted_at,
            "a report on the new pod",
        )
        after = container_ids(cluster)
        with pytest.raises(LookupError):
            await cluster.agent.restart_instance("web", 5)
    assert after["0"] != before["0"] and after["1"] == before["1"]
    kinds = [(e.kind, e.instance) for e in cluster.store.events]
    assert ("instance-restarting", "web-0") in kinds and (
        "instance-restarting",
        "web-1",
    ) not in kinds


async def test_an_instance_with_a_change_in_flight_is_not_restarted(quick_back_off: None) -> None:
    cluster = Cluster()
    await cluster.put_job("web")
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 running")
        first = asyncio.create_task(cluster.agent.restart_instance("web", 0))
        await eventually(lambda: ("web", 0) in cluster.agent._state.busy, "a replacement begun")
        with pytest.raises(InstanceBusy):
            await cluster.agent.restart_instance("web", 0)
        await first


async def test_starts_and_failed_starts_are_logged_with_the_instance(
    quick_back_off: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ozymandias.agent")
    cluster = Cluster()
    cluster.runtime.missing_images.add("broken")
    await cluster.put_job("web")
    await cluster.put_job("fixme", image="broken")
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 running")
        await eventually(state_is(cluster, "fixme", InstanceState.FAILED), "fixme-0 failed")

    def lines(job: str) -> list[tuple[str, str, str]]:
        return [
            (r.levelname, r.getMessage(), getattr(r, "instance", ""))
            for r in caplog.records
            if getattr(r, "job", None) == job
        ]

    assert ("INFO", "web-0: started on n1", "web-0") in lines("web")
    failed = lines("fixme")[0]
    assert failed[0] == "WARNING" and failed[2] == "fixme-0"
    assert failed[1].startswith("fixme-0: failed to start: ")


# Image pulls: the agent pulls before a start, as each container's policy says.

REMOTE = "reg.example:5000/web:1"


async def test_a_failed_pull_fails_the_instance_with_the_reason_and_holds_up_no_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(node_agent, "pull_retry_delay", lambda _: 300.0)
    cluster = Cluster()
    cluster.runtime.unpullable[REMOTE] = "reading manifest 1: unauthorized: authentication required"
    await cluster.put_job("private", image=REMOTE)
    await cluster.put_job("web")
    async with running(cluster):
        await eventually(state_is(cluster, "private", InstanceState.FAILED), "private-0 failed")
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 runs meanwhile")
    status = cluster.status("private")
    assert status is not None
    assert status.reason == f"image pull: unauthorized for {REMOTE}; retrying in 300s"
    failures = [e.message for e in cluster.store.events if e.kind == "instance-failed"]
    assert failures == [f"failed to start: {status.reason}"]


async def test_a_failed_pull_is_retried_with_its_own_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays: list[int] = []

    def delay(streak: int) -> float:
        delays.append(streak)
        return 0.05

    monkeypatch.setattr(node_agent, "pull_retry_delay", delay)
    cluster = Cluster()
    cluster.runtime.unpullable[REMOTE] = "manifest unknown"
    await cluster.put_job("private", image=REMOTE)
    async with running(cluster):
        await eventually(lambda: len(cluster.runtime.pulls) >= 3, "three pulls")
        del cluster.runtime.unpullable[REMOTE]
        await eventually(state_is(cluster, "private", InstanceState.RUNNING), "runs once pulled")
    assert delays[:3] == [1, 2, 3]


async def test_concurrent_starts_of_one_image_pull_it_once_and_show_pulling() -> None:
    cluster = Cluster()
    gate = asyncio.Event()
    cluster.runtime.pull_gate = gate
    await cluster.put_job("twins", image=REMOTE, count=2)
    async with running(cluster):

        def both_pulling() -> bool:
            statuses = [cluster.status("twins", index) for index in (0, 1)]
            return all(s is not None and s.state is InstanceState.PULLING for s in statuses)

        await eventually(both_pulling, "both instances pulling")
        status = cluster.status("twins")
        assert status is not None and status.reason == f"pulling {REMOTE}"
        gate.set()
        await eventually(
            lambda: all(
                (s := cluster.status("twins", i)) is not None and s.state is InstanceState.RUNNING
                for i in (0, 1)
            ),
            "both run",
        )
    assert cluster.runtime.pulls == [REMOTE]


@pytest.mark.parametrize(
    ("pull", "present", "pulled"),
    [
        ("missing", True, []),
        ("missing", False, [REMOTE]),
        ("always", True, [REMOTE]),
        (None, True, []),  # a tagged image defaults to missing
    ],
)
async def test_the_pull_policy_decides_whether_a_start_pulls(
    pull: str | None, present: bool, pulled: list[str]
) -> None:
    cluster = Cluster()
    if present:
        cluster.runtime.local_images.add(REMOTE)
    await cluster.put_job("web", image=REMOTE, pull=pull)
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.RUNNING), "web-0 runs")
    assert cluster.runtime.pulls == pulled


async def test_pull_never_with_the_image_missing_fails_without_pulling() -> None:
    cluster = Cluster()
    await cluster.put_job("web", image=REMOTE, pull="never")
    async with running(cluster):
        await eventually(state_is(cluster, "web", InstanceState.FAILED), "web-0 failed")
    status = cluster.status("web")
    assert status is not None
    assert status.reason.startswith(f"image {REMOTE} is not present, and its pull policy is never")
    assert cluster.runtime.pulls == []
