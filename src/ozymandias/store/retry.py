"""The one compare-and-swap retry loop: read, decide, write if nothing changed, else again.

Every guarded write in the cluster (a job commit, a re-placement, a volume's
removal, a subnet claim, a DNS alias) is an attempt that either lands or
loses a race to a peer. Peers racing on the same keys lose to each other, so
retries back off exponentially with full jitter to spread apart.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

T = TypeVar("T")

DEFAULT_ATTEMPTS = 16
_BACKOFF_FIRST_SECONDS = 0.005
_BACKOFF_MAX_SECONDS = 0.5


class Lost:
    """What an attempt returns when its guarded write lost a race: read again and retry."""

    _instance: Lost | None = None

    def __new__(cls) -> Lost:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "LOST"


LOST: Final = Lost()


async def retry_on_conflict(
    attempt: Callable[[int], Awaitable[T | Lost]],
    *,
    give_up: Callable[[int], Exception],
    attempts: int = DEFAULT_ATTEMPTS,
    on_lost: Callable[[int], None] | None = None,
    backoff: Callable[[int], Awaitable[None]] | None = None,
) -> T:
    """Run `attempt(0)`, `attempt(1)`, … until one does not return `LOST`; return its result.

    `attempt` gets its number, so it can read afresh after a lost race (the
    mirrors are likely behind then). After `attempts` lost races, raises
    `give_up(attempts)`. `on_lost(n)` is told of each lost race, for a log line.
    After each lost race it waits `backoff(n)` (`commit_backoff` unless given).
    """
    wait = commit_backoff if backoff is None else backoff
    for number in range(attempts):
        result = await attempt(number)
        if not isinstance(result, Lost):
            return result
        if on_lost is not None:
            on_lost(number)
        await wait(number)
    raise give_up(attempts)


async def commit_backoff(attempt: int) -> None:
    """Wait before the next attempt of a commit that lost a race (full jitter)."""
    ceiling = min(_BACKOFF_FIRST_SECONDS * 2**attempt, _BACKOFF_MAX_SECONDS)
    await asyncio.sleep(random.uniform(0, ceiling))
