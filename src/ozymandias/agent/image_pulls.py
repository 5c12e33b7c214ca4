"""Pulling an instance's images before its pod is created, as each container's policy says.

An instance whose images are being pulled is reported `pulling`, with
podman's latest progress line as its reason (at most one status write a
second). A failed pull fails the start with the reason in a few words
(`image pull: unauthorized for 127.0.0.1:5000/web`); the agent retries it
with the start back-off, which is longer for pulls (`pull_retry_delay`), so
a registry that is down is not hammered. Concurrent pulls of one image on
the node are one pull (the runtime's single flight).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.registries.access import RegistryLogins
from ozymandias.runtime.interface import ContainerRuntime
from ozymandias.runtime.models import ImagePullFailed, RegistryAccess
from ozymandias.spec.images import PullPolicy, effective_pull, pulls_before_start

FIRST_PULL_RETRY_SECONDS = 5.0
MAX_PULL_RETRY_SECONDS = 300.0
PROGRESS_INTERVAL_SECONDS = 1.0

Report = Callable[[str], Awaitable[None]]
"""Reports the instance `pulling`, with a reason."""


def pull_retry_delay(streak: int) -> float:
    """The wait before retry number `streak` (1-based) of a failing pull: 5 s doubling up
    to 5 minutes, as Kubernetes' ImagePullBackOff."""
    return min(FIRST_PULL_RETRY_SECONDS * 2.0 ** max(streak - 1, 0), MAX_PULL_RETRY_SECONDS)


def image_policies(instance: DesiredInstance) -> dict[str, PullPolicy]:
    """Each image of the instance, with the most eager policy of the containers that use it."""
    order: dict[PullPolicy, int] = {"never": 0, "missing": 1, "always": 2}
    policies: dict[str, PullPolicy] = {}
    for container in instance.spec.containers.values():
        policy = effective_pull(container.image, container.pull)
        known = policies.get(container.image)
        if known is None or order[policy] > order[known]:
            policies[container.image] = policy
    return policies


class ImagePulls:
    def __init__(self, runtime: ContainerRuntime, logins: RegistryLogins | None) -> None:
        """Without `logins`, every pull is anonymous."""
        self._runtime = runtime
        self._logins = logins

    async def ready(self, instance: DesiredInstance, report: Report) -> None:
        """Pull what the instance's policies say; `ImagePullFailed` names the first failure."""
        wanted: list[str] = []
        for image, policy in image_policies(instance).items():
            present = policy != "always" and await self._runtime.image_present(image)
            if policy == "never" and not present:
                raise ImagePullFailed(f"image {image} is not present, and its pull policy is never")
            if pulls_before_start(policy, present):
                wanted.append(image)
        if not wanted:
            return
        await report(f"pulling {', '.join(wanted)}")
        results = await asyncio.gather(
            *(self._pull(image, report) for image in wanted), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _pull(self, image: str, report: Report) -> None:
        access = self._logins.access_for(image) if self._logins else RegistryAccess()
        reports: set[asyncio.Task[None]] = set()
        last = 0.0

        def progress(line: str) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_INTERVAL_SECONDS and not reports:
                last = now
                task: asyncio.Task[None] = asyncio.ensure_future(report(f"pulling {image}: {line}"))
                reports.add(task)
                task.add_done_callback(reports.discard)

        try:
            await self._runtime.pull_image(image, access, progress)
        finally:
            for task in list(reports):
                await task
