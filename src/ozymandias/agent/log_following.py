"""A container's output for `ozy logs`: one read, the previous run, or followed across
restarts.

A restart policy restarts the same container (`restarts.py`), so its log goes on
in the same file: a follow that podman ends when the container exits is read again,
from where it stood (`log_cursor.py`), once the agent has started it again. A pod
replaced on this node (a new version) has new containers, whose output is all new.
The follow ends when the instance leaves this node, or when its container has
exited and nothing will restart it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from ozymandias.agent.local_plan import InstanceKey
from ozymandias.agent.log_cursor import LogCursor, TimestampPrefix
from ozymandias.agent.tracks import AgentState, ContainerTrack
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ContainerNotFound

# How often a follow whose container has stopped looks at the agent's state for its
# next run. The agent learns of exits and restarts from podman's events; a follow is
# not worth a subscription of its own, and a quarter second is no visible delay.
_POLL_SECONDS = 0.25


@dataclass(frozen=True)
class LogRequest:
    follow: bool = False
    tail: int | None = None
    since: datetime | None = None
    timestamps: bool = False
    previous: bool = False


class NoPreviousRun(Exception):
    """The container has not been restarted since it was created."""


async def container_logs(
    state: AgentState, runtime: ContainerRuntime, key: InstanceKey, name: str, request: LogRequest
) -> AsyncIterator[bytes]:
    """The output asked for; raises NoPreviousRun here, before any output, for `previous`."""
    if not request.previous:
        return _read(state, runtime, key, name, request)
    removed = NoPreviousRun(f"container {name} has just been removed")
    track = _container(state, key, name)
    if track is None:
        raise removed
    try:
        runs = await runtime.container_runs(track.container_id)
    except ContainerNotFound:
        raise removed from None
    if len(runs) < 2:
        raise NoPreviousRun(f"container {name} has not been restarted since it was created")
    # Between the ends of the two runs before the last: a run's first lines may be
    # written before podman logs its start, never before the run before it died.
    since = _later(runs[-3].ended if len(runs) > 2 else None, request.since)
    return _previous(runtime, track.container_id, request, since, runs[-2].ended)


async def _previous(
    runtime: ContainerRuntime,
    container_id: str,
    request: LogRequest,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[bytes]:
    prefix = TimestampPrefix()
    entries = runtime.logs(container_id, follow=False, tail=request.tail, since=since, until=until)
    async for entry in entries:
        yield prefix(entry.time, entry.data) if request.timestamps else entry.data


async def _read(
    state: AgentState,
    runtime: ContainerRuntime,
    key: InstanceKey,
    name: str,
    request: LogRequest,
) -> AsyncIterator[bytes]:
    cursor, prefix = LogCursor(), TimestampPrefix()
    container_id, tail = "", request.tail
    while (track := _container(state, key, name)) is not None:
        if track.container_id != container_id:
            if container_id:  # a new pod's container: all of its output is new
                cursor, tail = LogCursor(), None
            container_id = track.container_id
        restarts = track.restarts
        since = _later(cursor.resume_since(), request.since)
        if tail is not None:
            cursor.cut_by_tail()
        removed = False
        try:
            async for entry in runtime.logs(
                container_id, follow=request.follow, tail=tail, since=since
            ):
                if cursor.admit(entry.time):
                    yield prefix(entry.time, entry.data) if request.timestamps else entry.data
        except ContainerNotFound:
            removed = True  # the agent's state says whether another container replaces it
        if not request.follow:
            return
        if not await _runs_again(state, key, name, container_id, restarts, removed=removed):
            return
        tail = None  # `tail` cuts the first read only


async def _runs_again(
    state: AgentState,
    key: InstanceKey,
    name: str,
    container_id: str,
    restarts: int,
    *,
    removed: bool,
) -> bool:
    """Wait until the container that stopped runs again or is replaced (True), or until
    nothing will run it again (False): its pod has left this node, or it exited for good,
    or it was `removed` and no change is under way (the node is stopping its pods)."""
    while True:
        track = _container(state, key, name)
        if track is None and key not in state.busy:
            return False
        if track is not None:
            if track.container_id != container_id or track.restarts != restarts:
                return True
            if removed and key not in state.busy:
                return False
            if track.running:
                # Podman ended the follow, so the container stopped, but the agent has not
                # heard yet (or podman's stream broke): read again after a pause; the
                # cursor keeps it from showing anything twice.
                await asyncio.sleep(_POLL_SECONDS)
                return True
            if track.restart_timer is None:
                return False
        await asyncio.sleep(_POLL_SECONDS)


def _later(one: datetime | None, other: datetime | None) -> datetime | None:
    """The later of two starts of a read, either of which may be none (from the start)."""
    if one is None or other is None:
        return one or other
    return max(one, other)


def _container(state: AgentState, key: InstanceKey, name: str) -> ContainerTrack | None:
    track = state.pods.get(key)
    return track.containers.get(name) if track is not None else None
