"""Commands run in this node's containers for `ozy exec` (the API's exec route)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ozymandias.agent.tracks import AgentState
from ozymandias.cluster.records import instance_name
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ExecExit, ExecOutput


class ContainerExecs:
    def __init__(self, state: AgentState, runtime: ContainerRuntime) -> None:
        self._state = state
        self._runtime = runtime

    def refusal(self, job: str, index: int, container: str) -> str | None:
        """Why a command can't run in that container now (None if it can), for the API to say."""
        track = self._state.pods.get((job, index))
        if track is None or container not in track.containers:
            return f"{instance_name(job, index)} has no {container} container on this node yet"
        if not track.containers[container].running:
            return f"container {container} of {instance_name(job, index)} is not running"
        return None

    def run(
        self,
        job: str,
        index: int,
        container: str,
        command: list[str],
        timeout: float,
    ) -> AsyncIterator[ExecOutput | ExecExit]:
        """Run a command in one of this node's containers (check `refusal` first): its output
        as it comes, then its exit code; TimeoutError past `timeout` seconds."""
        container_id = self._state.pods[(job, index)].containers[container].container_id
        return self._runtime.exec_stream(container_id, command, timeout)
