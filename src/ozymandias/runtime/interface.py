"""What the agent needs of a container runtime: the seam between it and podman.

`PodmanRuntime` is the one real implementation. The agent is typed against
this Protocol, so its reconcile, restart, adoption and drain logic run in
unit tests against an in-memory fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Protocol

from ozymandias.runtime.models import (
    ContainerExit,
    ContainerRun,
    ExecExit,
    ExecOutput,
    LogEntry,
    PodInfo,
    PodPlan,
    RegistryAccess,
    StreamConnected,
)


class ContainerRuntime(Protocol):
    async def list_pods(self, label_filter: dict[str, str]) -> list[PodInfo]:
        """Our pods carrying all the given labels."""
        ...

    async def run_pod(self, plan: PodPlan) -> PodInfo:
        """Create and start the pod's containers, wave by wave; nothing is left on failure."""
        ...

    async def image_present(self, image: str) -> bool: ...

    async def pull_image(
        self,
        image: str,
        access: RegistryAccess,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Pull `image`, one pull for concurrent callers; `ImagePullFailed` with the reason."""
        ...

    async def start_container(self, container_id: str) -> None: ...

    # A stop_timeout of None gives each container the grace its plan set at creation.
    async def stop_container(self, container_id: str, *, stop_timeout: int | None = None) -> None:
        ...

    async def remove_pod(self, pod_name: str, *, stop_timeout: int | None = None) -> None: ...

    def container_exits(
        self, label_filter: dict[str, str]
    ) -> AsyncIterator[ContainerExit | StreamConnected]:
        """Exits of our containers, with `StreamConnected` after each (re)connection.

        Each says for certain whether the kernel's OOM killer killed it (`oom_killed`).
        """
        ...

    async def exec(
        self,
        container_id: str,
        command: list[str],
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[int, str]: ...

    def exec_stream(
        self,
        container_id: str,
        command: list[str],
        timeout: float,
    ) -> AsyncIterator[ExecOutput | ExecExit]:
        """A command's output as it comes, then its exit code (for `ozy exec`)."""
        ...

    def logs(
        self,
        container_id: str,
        *,
        follow: bool,
        tail: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[LogEntry]:
        """A container's output, written after `since` and before `until`."""
        ...

    async def container_runs(self, container_id: str) -> list[ContainerRun]:
        """The container's runs, oldest first (a restart starts a run)."""
        ...
