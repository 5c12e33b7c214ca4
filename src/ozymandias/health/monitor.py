"""Checking one container on its schedule, in a task of its own.

Each checked container gets its own task, so a slow or hanging check (bounded
by its timeout) never delays the checks of other containers. Checks run at a
fixed rate: a check that takes long does not push the next ones back, which
keeps "unhealthy within interval x unhealthy_threshold" true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ozymandias.health.checks import CheckResult
from ozymandias.health.state import CheckState, next_check_delay, observe
from ozymandias.metrics.health import observe_check
from ozymandias.spec.models import HealthCheck

OnChange = Callable[[CheckState, CheckResult], None]
"""Called when a container's health changes, with its new state and the last result."""


class HealthMonitor:
    def __init__(
        self, check: HealthCheck, probe: Callable[[], Awaitable[CheckResult]], on_change: OnChange
    ) -> None:
        self.check = check
        self._probe = probe
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None
        self.state = CheckState.started(0.0)
        self.last_result = CheckResult(False, "not checked yet")

    def start(self) -> None:
        """(Re)start checking from `starting`, as for a container that just started."""
        self.stop()
        loop = asyncio.get_running_loop()
        self.state = CheckState.started(loop.time())
        self._task = loop.create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            started = loop.time()
            result = await self._probe()
            now = loop.time()
            observe_check(self.check.type, result.passed, now - started)
            before = self.state.health
            self.state = observe(self.state, result.passed, now, self.check)
            self.last_result = result
            if self.state.health is not before:
                self._on_change(self.state, result)
            due += next_check_delay(self.state, now, self.check)
            due = max(due, now)  # a check that overran its slot: the next one runs at once
