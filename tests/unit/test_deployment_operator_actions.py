"""An operator's promote and fail (deployments/operator_actions.py): the decisions, as a
table, and the compare-and-swap that re-reads and decides again after a lost race."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ozymandias.cluster.records import Deployment, DeploymentStatus
from ozymandias.deployments.operator_actions import (
    MAX_ATTEMPTS,
    DeploymentRefused,
    OperatorActions,
    promote,
    request_failure,
)
from ozymandias.spec.update import UpdatePolicy

NOW = 1000.0


def deployment(
    status: DeploymentStatus = DeploymentStatus.RUNNING, canary: int = 0, **fields: Any
) -> Deployment:
    return Deployment(
        job="web",
        version=2,
        status=status,
        update=UpdatePolicy(canary=canary),
        created_at=1.0,
        updated_at=1.0,
        last_progress_at=1.0,
        **fields,
    )


ENDED = [
    DeploymentStatus.SUCCESSFUL,
    DeploymentStatus.FAILED,
    DeploymentStatus.REVERTED,
]


@pytest.mark.parametrize(
    ("current", "refused"),
    [
        pytest.param(None, "no-active-deployment", id="none"),
        *[
            pytest.param(deployment(status, canary=1), "no-active-deployment", id=str(status))
            for status in ENDED
        ],
        pytest.param(deployment(canary=0), "nothing-to-promote", id="no canaries"),
        pytest.param(deployment(DeploymentStatus.PAUSED, canary=1), None, id="paused"),
        pytest.param(deployment(canary=2), None, id="canaries still starting"),
    ],
)
def test_promote(current: Deployment | None, refused: str | None) -> None:
    if refused is not None:
        with pytest.raises(DeploymentRefused) as refusal:
            promote("web", current, NOW)
        assert refusal.value.slug == refused
        return
    assert current is not None
    promoted = promote("web", current, NOW)
    assert promoted == current.model_copy(update={"promoted": True, "updated_at": NOW})


def test_promoting_again_changes_nothing() -> None:
    promoted = deployment(canary=1, promoted=True)
    assert promote("web", promoted, NOW) is promoted


@pytest.mark.parametrize(
    ("current", "refused"),
    [
        pytest.param(None, True, id="none"),
        *[pytest.param(deployment(status), True, id=str(status)) for status in ENDED],
        pytest.param(deployment(), False, id="running"),
        pytest.param(deployment(DeploymentStatus.PAUSED, canary=1), False, id="paused"),
    ],
)
def test_request_failure(current: Deployment | None, refused: bool) -> None:
    if refused:
        with pytest.raises(DeploymentRefused) as refusal:
            request_failure("web", current, "by token ci", NOW)
        assert refusal.value.slug == "no-active-deployment"
        return
    assert current is not None
    marked = request_failure("web", current, "by token ci", NOW)
    assert marked == current.model_copy(update={"fail_requested": "by token ci", "updated_at": NOW})


def test_a_failure_already_requested_keeps_who_asked_first() -> None:
    marked = deployment(fail_requested="by token alice")
    assert request_failure("web", marked, "by token bob", NOW) is marked


class RacingStore:
    """A store whose deployment a deployer rewrites before each of the first `losses` writes."""

    def __init__(self, current: Deployment, losses: int) -> None:
        self.current = current
        self.revision = 10
        self.losses = losses
        self.writes: list[Deployment] = []

    async def read_deployment(self, job: str) -> tuple[Deployment | None, int]:
        return self.current, self.revision

    async def update_deployment(self, wanted: Deployment, revision: int) -> bool:
        if self.losses > 0:  # the deployer stepped it in between
            self.losses -= 1
            self.current = self.current.model_copy(update={"healthy": [*self.current.healthy, 0]})
            self.revision += 1
        if revision != self.revision:
            return False
        self.current, self.revision = wanted, self.revision + 1
        self.writes.append(wanted)
        return True


async def test_a_lost_race_reads_again_and_keeps_the_deployers_step() -> None:
    store = RacingStore(deployment(canary=1), losses=2)
    actions = OperatorActions(cast(Any, store), clock=lambda: NOW)
    promoted = await actions.promote("web")
    assert promoted.promoted and promoted.healthy == [0, 0]
    assert store.writes == [promoted]


async def test_a_deployment_that_keeps_changing_is_refused_after_a_few_attempts() -> None:
    store = RacingStore(deployment(), losses=MAX_ATTEMPTS)
    actions = OperatorActions(cast(Any, store), clock=lambda: NOW)
    with pytest.raises(DeploymentRefused) as refusal:
        await actions.fail("web", "by token ci")
    assert refusal.value.slug == "deployment-busy"
    assert store.writes == []


async def test_an_action_that_changes_nothing_writes_nothing() -> None:
    store = RacingStore(deployment(canary=1, promoted=True), losses=0)
    actions = OperatorActions(cast(Any, store), clock=lambda: NOW)
    await actions.promote("web")
    assert store.writes == []
