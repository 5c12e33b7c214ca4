"""The one compare-and-swap retry loop: results, lost races, giving up, and its back-off."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from ozymandias.store import retry
from ozymandias.store.retry import LOST, Lost, commit_backoff, retry_on_conflict


class GaveUp(Exception):
    def __init__(self, attempts: int) -> None:
        super().__init__(attempts)
        self.attempts = attempts


@dataclass(frozen=True)
class Case:
    name: str
    outcomes: list[object]  # what each attempt returns, in turn
    attempts: int
    returns: object = None
    gives_up: bool = False


CASES = [
    Case("the first attempt lands", ["won"], 16, returns="won"),
    Case("lands after two lost races", [LOST, LOST, "won"], 16, returns="won"),
    Case("lands on the last attempt allowed", [LOST, LOST, "won"], 3, returns="won"),
    Case("None is a result, not a lost race", [LOST, None], 16, returns=None),
    Case("False is a result, not a lost race", [False], 16, returns=False),
    Case("an empty result is a result", [LOST, []], 16, returns=[]),
    Case("gives up after every attempt lost", [LOST, LOST, LOST], 3, gives_up=True),
    Case("one attempt allowed, lost", [LOST], 1, gives_up=True),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_retry_on_conflict(case: Case) -> None:
    numbers: list[int] = []
    lost: list[int] = []
    waited: list[int] = []

    async def attempt(number: int) -> object:
        numbers.append(number)
        return case.outcomes[number]

    async def backoff(number: int) -> None:
        waited.append(number)

    run = retry_on_conflict(
        attempt, give_up=GaveUp, attempts=case.attempts, on_lost=lost.append, backoff=backoff
    )
    if case.gives_up:
        with pytest.raises(GaveUp) as raised:
            await run
        assert raised.value.attempts == case.attempts
    else:
        assert await run == case.returns
    tried = case.attempts if case.gives_up else len(case.outcomes)
    # Each attempt is told its number; each lost race is reported, then waited out.
    assert numbers == list(range(tried))
    races = [n for n in numbers if case.outcomes[n] is LOST]
    assert lost == races
    assert waited == races


@pytest.mark.parametrize("stop", [LookupError("job gone"), ValueError("rejected")])
async def test_an_attempt_that_raises_is_not_retried(stop: Exception) -> None:
    numbers: list[int] = []

    async def attempt(number: int) -> Lost:
        numbers.append(number)
        if number == 1:
            raise stop
        return LOST

    async def backoff(number: int) -> None:
        pass

    with pytest.raises(type(stop)):
        await retry_on_conflict(attempt, give_up=GaveUp, backoff=backoff)
    assert numbers == [0, 1]


async def test_without_on_lost_and_attempts_it_tries_sixteen_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited: list[int] = []

    async def backoff(number: int) -> None:
        waited.append(number)

    # Without `backoff`, the module's `commit_backoff` is what waits.
    monkeypatch.setattr(retry, "commit_backoff", backoff)

    async def attempt(number: int) -> Lost:
        return LOST

    with pytest.raises(GaveUp) as raised:
        await retry_on_conflict(attempt, give_up=GaveUp)
    assert raised.value.attempts == retry.DEFAULT_ATTEMPTS == 16
    assert waited == list(range(16))


def test_lost_is_one_value() -> None:
    assert Lost() is LOST
    assert repr(LOST) == "LOST"


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(0, 0.005), (1, 0.01), (3, 0.04), (6, 0.32), (7, 0.5), (30, 0.5)],
)
async def test_commit_backoff_is_full_jitter_up_to_a_cap(
    monkeypatch: pytest.MonkeyPatch, attempt: int, ceiling: float
) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return 0.0

    monkeypatch.setattr(random, "uniform", uniform)
    await commit_backoff(attempt)
    [(low, high)] = asked
    assert low == 0
    assert high == pytest.approx(ceiling)
