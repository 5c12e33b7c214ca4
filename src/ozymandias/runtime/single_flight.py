"""One run of a piece of work per key at a time, shared by everyone who asks meanwhile.

Two instances of one image starting on a node at once must cause one pull,
not two racing ones: the second caller waits for the first's pull and gets
its outcome (success or the same error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Task[T]] = {}

    def in_flight(self, key: K) -> bool:
        return key in self._flights

    async def run(self, key: K, work: Callable[[], Awaitable[T]]) -> T:
        """`work()`'s outcome; if a run for `key` is in flight, that run's instead.

        A caller that is cancelled leaves the run going for the others (it is
        shielded); the run is forgotten once it ends, so a later call runs anew.
        """
        flight = self._flights.get(key)
        if flight is None:

            async def run_work() -> T:
                return await work()

            flight = asyncio.create_task(run_work())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    def _landed(self, key: K, flight: asyncio.Task[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            flight.exception()  # retrieved, so a run whose callers all left logs no warning
