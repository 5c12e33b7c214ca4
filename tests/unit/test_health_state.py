"""The health state machine: thresholds, the start period and pod health."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import Health
from ozymandias.health.state import CheckState, next_check_delay, observe, pod_health
from ozymandias.spec.models import HealthCheck

S, H, U = Health.STARTING, Health.HEALTHY, Health.UNHEALTHY


def check(healthy: int = 2, unhealthy: int = 2, start_period: float = 5) -> HealthCheck:
    return HealthCheck(
        type="tcp",
        port=80,
        interval=10,
        healthy_threshold=healthy,
        unhealthy_threshold=unhealthy,
        start_period=start_period,
    )


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        pytest.param([], [], id="nothing yet"),
        pytest.param([(1, True)], [S], id="one pass of two needed"),
        pytest.param([(1, True), (2, True)], [S, H], id="two passes: healthy"),
        pytest.param(
            [(1, True), (2, False), (3, True)], [S, S, S], id="passes must be consecutive"
        ),
        pytest.param([(1, False), (2, False), (3, False)], [S, S, S], id="start period forgives"),
        pytest.param([(6, False), (7, False)], [S, U], id="after the start period: unhealthy"),
        pytest.param(
            [(1, True), (2, True), (20, False), (30, False)], [S, H, H, U], id="healthy, then fails"
        ),
        pytest.param(
            [(1, True), (2, True), (20, False), (30, True), (40, False)],
            [S, H, H, H, H],
            id="failures must be consecutive",
        ),
        pytest.param([(6, False), (7, False), (8, True), (9, True)], [S, U, U, H], id="recovers"),
    ],
)
def test_thresholds_and_start_period(
    results: list[tuple[float, bool]], expected: list[Health]
) -> None:
    state = CheckState.started(0.0)
    seen = []
    for at, passed in results:
        state = observe(state, passed, at, check())
        seen.append(state.health)
    assert seen == expected


def test_checks_run_every_second_while_starting_in_the_start_period() -> None:
    starting = CheckState.started(0.0)
    assert next_check_delay(starting, 1.0, check()) == 1.0
    assert next_check_delay(starting, 6.0, check()) == 10.0
    healthy = observe(observe(starting, True, 1, check()), True, 2, check())
    assert next_check_delay(healthy, 2.0, check()) == 10.0


@pytest.mark.parametrize(
    ("containers", "expected"),
    [([], H), ([H, H], H), ([H, S], S), ([S, U], U), ([H, U], U)],
)
def test_a_pod_is_healthy_when_every_container_is(
    containers: list[Health], expected: Health
) -> None:
    assert pod_health(containers) is expected
