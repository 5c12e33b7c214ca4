"""`ozy logs` on the agent's side (agent/log_following.py), against a fake runtime whose
log is a list: a follow goes on across restarts and ends when nothing will run the
container again; `--previous` reads the window between the deaths of the runs before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from ozymandias.agent.local_plan import LocalPod
from ozymandias.agent.log_following import LogRequest, NoPreviousRun, container_logs
from ozymandias.agent.tracks import AgentState, ContainerTrack, PodTrack
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ContainerNotFound, ContainerRun, LogEntry
from ozymandias.store.cluster_mirrors import ClusterMirrors
from tests.support.waiting import within

KEY = ("job", 0)
PENDING_RESTART = cast("asyncio.Task[None]", object())


def at(second: int) -> datetime:
    return datetime(2026, 12, 7, 12, 0, second, tzinfo=UTC)


@dataclass
class Read:
    container_id: str
    tail: int | None
    since: datetime | None
    until: datetime | None


class ListRuntime:
    """The part of a runtime logs use: each container's log a list, its runs given."""

    def __init__(self) -> None:
        self.logged: dict[str, list[LogEntry]] = {}
        self.runs: dict[str, list[ContainerRun]] = {}
        self.reads: list[Read] = []

    async def logs(
        self,
        container_id: str,
        *,
        follow: bool,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[LogEntry]:
        self.reads.append(Read(container_id, tail, since, until))
        if container_id not in self.logged:
            raise ContainerNotFound(404, f"no container with ID {container_id} found")
        chosen = [
            entry
            for entry in self.logged.get(container_id, [])
            if (since is None or entry.time > since) and (until is None or entry.time <= until)
        ]
        for entry in chosen if tail is None else chosen[len(chosen) - tail :]:
            # Podman filters by the log's own nanosecond times, but shows whole seconds.
            yield LogEntry(entry.time.replace(microsecond=0), entry.data)

    async def container_runs(self, container_id: str) -> list[ContainerRun]:
        if container_id not in self.runs:
            raise ContainerNotFound(404, f"no container with ID {container_id} found")
        return self.runs[container_id]


def agent_with(container_id: str) -> tuple[AgentState, ListRuntime, ContainerTrack]:
    state = AgentState(node_name="n1", mirrors=cast(ClusterMirrors, None))
    app = ContainerTrack(name="app", container_id=container_id)
    state.pods[KEY] = PodTrack(pod=LocalPod("p", *KEY, 1), ip="10.0.0.2", containers={"app": app})
    return state, ListRuntime(), app


async def logs_of(
    state: AgentState, runtime: ListRuntime, request: LogRequest
) -> AsyncIterator[bytes]:
    return await container_logs(state, cast(ContainerRuntime, runtime), KEY, "app", request)


async def next_chunks(stream: AsyncIterator[bytes], count: int) -> list[bytes]:
    return [await within(anext(stream), "the next chunk of the log") for _ in range(count)]


async def test_a_follow_goes_on_across_a_restart_and_a_replacement_and_ends_with_the_pod() -> None:
    state, runtime, app = agent_with("c1")
    runtime.logged["c1"] = [LogEntry(at(1), b"run 1 a\n"), LogEntry(at(1), b"run 1 b\n")]
    stream = await logs_of(state, runtime, LogRequest(follow=True, tail=1))
    assert await next_chunks(stream, 1) == [b"run 1 b\n"]

    # Restarted by its policy (a second later at the soonest): the same container and log.
    runtime.logged["c1"] += [LogEntry(at(2), b"run 2 a\n"), LogEntry(at(2), b"run 2 b\n")]
    app.restarts = 1
    assert await next_chunks(stream, 2) == [b"run 2 a\n", b"run 2 b\n"]
    assert runtime.reads[1].tail is None  # `tail` cuts the first read only

    # Replaced on this node (a new version): the new container's whole output.
    runtime.logged["c2"] = [LogEntry(at(0), b"new pod\n")]
    app.container_id = "c2"
    assert await next_chunks(stream, 1) == [b"new pod\n"]

    del state.pods[KEY]  # the instance has left this node
    with pytest.raises(StopAsyncIteration):
        await within(anext(stream), "the end of the follow")


async def test_a_follow_waits_out_a_back_off_and_ends_when_nothing_restarts_it() -> None:
    state, runtime, app = agent_with("c1")
    runtime.logged["c1"] = [LogEntry(at(1), b"crash\n")]
    app.running, app.exit_code, app.restart_timer = False, 1, PENDING_RESTART
    stream = await logs_of(state, runtime, LogRequest(follow=True, timestamps=True))
    assert await next_chunks(stream, 1) == [b"2026-12-07T12:00:01Z crash\n"]
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.6)  # over two looks at the agent's state: still waiting
    assert not waiting.done()
    app.restart_timer = None  # its restart was cancelled: it will not run again
    with pytest.raises(StopAsyncIteration):
        await within(waiting, "the end of the follow")


async def test_a_follow_waits_for_a_pod_being_replaced_and_ends_when_its_node_removes_it() -> None:
    state, runtime, app = agent_with("c1")
    runtime.logged["c1"] = [LogEntry(at(1), b"old\n")]
    stream = await logs_of(state, runtime, LogRequest(follow=True))
    assert await next_chunks(stream, 1) == [b"old\n"]
    # Being replaced: the old container is gone before the new one is tracked.
    state.busy.add(KEY)
    del runtime.logged["c1"]
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.6)  # over two looks at the agent's state: still waiting
    assert not waiting.done()
    runtime.logged["c2"] = [LogEntry(at(5), b"new\n")]
    app.container_id = "c2"
    state.busy.discard(KEY)
    assert await within(waiting, "the new container's output") == b"new\n"
    # A stopping node removes its pods and leaves the agent's state as it was.
    del runtime.logged["c2"]
    with pytest.raises(StopAsyncIteration):
        await within(anext(stream), "the end of the follow")


@pytest.mark.parametrize(
    ("runs", "since", "window"),
    [
        # The run before the running one: from the death of the one before it.
        ([(0, 3), (5, 8), (10, None)], None, (at(3), at(8))),
        # While it waits to restart, the last run is the one that exited.
        ([(0, 3), (5, 8), (10, 12)], None, (at(3), at(8))),
        # The first run has nothing before it.
        ([(0, 3), (5, None)], None, (None, at(3))),
        # --since narrows it.
        ([(0, 3), (5, 8), (10, None)], at(6), (at(6), at(8))),
        ([(0, 3), (5, 8), (10, None)], at(1), (at(3), at(8))),
    ],
)
async def test_previous_reads_between_the_deaths_of_the_runs_before_the_last(
    runs: list[tuple[int, int | None]],
    since: datetime | None,
    window: tuple[datetime | None, datetime],
) -> None:
    state, runtime, _ = agent_with("c1")
    runtime.runs["c1"] = [
        ContainerRun(at(start), at(end) if end is not None else None) for start, end in runs
    ]
    runtime.logged["c1"] = [LogEntry(at(second), f"{second}\n".encode()) for second in range(13)]
    stream = await logs_of(state, runtime, LogRequest(previous=True, since=since))
    output = b"".join([chunk async for chunk in stream])
    assert (runtime.reads[0].since, runtime.reads[0].until) == window
    first, last = window
    expected = range(first.second + 1 if first else 0, last.second + 1)
    assert output == b"".join(f"{second}\n".encode() for second in expected)


async def test_previous_of_a_container_never_restarted_is_an_error_before_any_output() -> None:
    state, runtime, _ = agent_with("c1")
    runtime.runs["c1"] = [ContainerRun(at(0), None)]
    with pytest.raises(NoPreviousRun, match="container app has not been restarted"):
        await logs_of(state, runtime, LogRequest(previous=True))
    assert runtime.reads == []


async def test_previous_of_a_container_just_removed_is_an_error_too() -> None:
    state, runtime, _ = agent_with("c1")
    with pytest.raises(NoPreviousRun, match="container app has just been removed"):
        await logs_of(state, runtime, LogRequest(previous=True))


async def test_a_resumed_follow_keeps_to_since_within_its_second() -> None:
    state, runtime, app = agent_with("c1")
    half_past = at(1) + timedelta(milliseconds=500)
    runtime.logged["c1"] = [
        LogEntry(at(1), b"before since\n"),
        LogEntry(half_past + timedelta(milliseconds=100), b"after since\n"),
    ]
    stream = await logs_of(state, runtime, LogRequest(follow=True, since=half_past))
    assert await next_chunks(stream, 1) == [b"after since\n"]
    runtime.logged["c1"].append(LogEntry(at(3), b"run 2\n"))
    app.restarts = 1
    assert await next_chunks(stream, 1) == [b"run 2\n"]
    assert runtime.reads[1].since == half_past
