"""A container's health from its check results: a pure state machine.

A container starts `starting`. `healthy_threshold` consecutive passes make it
`healthy`; `unhealthy_threshold` consecutive failures make it `unhealthy`.
Failures inside the start period (the grace after the container started) do
not count, while passes do, so a fast start is seen at once and a slow one
is not punished. A pod is healthy when every container in it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from ozymandias.cluster.records import Health
from ozymandias.spec.models import HealthCheck

# While a container is still in its start period and not yet healthy, it is
# checked at least this often, so a 60 s interval does not keep a pod that
# is ready after one second out of DNS for a minute (Docker's start_interval).
START_PERIOD_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class CheckState:
    """One container's health and the streak of results that led to it."""

    health: Health
    started_at: float
    passes: int = 0
    failures: int = 0

    @classmethod
    def started(cls, at: float) -> CheckState:
        return cls(Health.STARTING, started_at=at)


def observe(state: CheckState, passed: bool, at: float, check: HealthCheck) -> CheckState:
    """The state after one check result, seen at monotonic time `at`."""
    if passed:
        passes = state.passes + 1
        healthy = passes >= check.healthy_threshold
        return replace(
            state, passes=passes, failures=0, health=Health.HEALTHY if healthy else state.health
        )
    if state.health is Health.STARTING and at - state.started_at < check.start_period:
        return replace(state, passes=0)
    failures = state.failures + 1
    unhealthy = failures >= check.unhealthy_threshold
    return replace(
        state, passes=0, failures=failures, health=Health.UNHEALTHY if unhealthy else state.health
    )


def next_check_delay(state: CheckState, at: float, check: HealthCheck) -> float:
    """How long after a check at `at` the next one is due."""
    in_start_period = at - state.started_at < check.start_period
    if state.health is Health.STARTING and in_start_period:
        return min(check.interval, START_PERIOD_INTERVAL_SECONDS)
    return check.interval


def pod_health(containers: Iterable[Health]) -> Health:
    """A pod's health from its containers': unhealthy if any is, else starting if any is."""
    states = set(containers)
    if Health.UNHEALTHY in states:
        return Health.UNHEALTHY
    if Health.STARTING in states:
        return Health.STARTING
    return Health.HEALTHY
