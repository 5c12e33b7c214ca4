"""The lease keeper on a thread of its own, with its own event loop and etcd channel.

Everything else a node does shares one event loop: API requests, planning,
health checks, podman calls. Any of them can hold that loop for a while (a
big plan, a slow parse, a stuck call), and a lease refreshed from the same
loop would then lapse: the node would fence and stop every pod over one
request. So the keeper runs here, where nothing of the node's own work can
delay it. It shares no objects with the main loop but three: the `lost`
event it sets there (thread-safely), the time of its last refresh (a float,
read atomically), and the peers' outage check, which it asks the main loop
for with a deadline (a main loop too busy to answer counts as "a peer still
reaches etcd", so the node fences rather than hold a lease it cannot vouch
for).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable

from ozymandias.store.etcd import Etcd
from ozymandias.store.lease import LeaseKeeper, OutageCheck

log = logging.getLogger(__name__)

# How long the keeper waits for the main loop to say whether peers reach etcd.
_OUTAGE_CHECK_SECONDS = 2.0
# How long stopping waits for the thread to close its etcd channel.
_JOIN_SECONDS = 5.0


class LeaseThread:
    """Runs one term's `LeaseKeeper` on its own thread; `run()` awaits it from the main loop."""

    def __init__(
        self,
        connect: Callable[[], Etcd],
        lease_id: int,
        ttl: int,
        *,
        fence_after: float | None = None,
        everyone_cut_off: OutageCheck | None = None,
    ) -> None:
        """`connect` opens the keeper's own etcd connection, on the keeper's thread."""
        self.lost = asyncio.Event()
        self._connect = connect
        self._lease_id = lease_id
        self._ttl = ttl
        self._fence_after = fence_after
        self._everyone_cut_off = everyone_cut_off
        self._keeper: LeaseKeeper | None = None
        self._main_loop: asyncio.AbstractEventLoop | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._thread_task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._stopping = threading.Event()

    @property
    def silent_for(self) -> float:
        """Seconds since the last refresh that etcd answered was sent (0 before the start)."""
        return self._keeper.silent_for if self._keeper is not None else 0.0

    async def run(self) -> None:
        """Keep the lease until cancelled, or until it is lost (then `lost` is set)."""
        self._main_loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._thread_main, name=f"lease-{self._lease_id:x}", daemon=True
        )
        thread.start()
        try:
            await asyncio.to_thread(self._started.wait)
            await self.lost.wait()
        finally:
            self._stop_thread()
            await asyncio.to_thread(thread.join, _JOIN_SECONDS)

    def _stop_thread(self) -> None:
        # Seen by a thread that has not recorded its task yet, as it does so.
        self._stopping.set()
        loop, task = self._thread_loop, self._thread_task
        if loop is not None and task is not None:
            # The loop may have closed already, once the keeper found the lease lost.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._keep())
        except asyncio.CancelledError:
            pass
        except Exception:
            # The keeper cannot vouch for the lease any more: the node must fence.
            log.exception("lease %x: the keeper failed", self._lease_id)
            self._set_lost()
        finally:
            self._started.set()

    async def _keep(self) -> None:
        self._thread_loop = asyncio.get_running_loop()
        self._thread_task = asyncio.current_task()
        if self._stopping.is_set():  # stopped before it could be cancelled
            return
        etcd = self._connect()
        check = self._ask_main_loop if self._everyone_cut_off is not None else None
        self._keeper = LeaseKeeper(
            etcd, self._lease_id, self._ttl, fence_after=self._fence_after, everyone_cut_off=check
        )
        self._started.set()
        try:
            await self._keeper.run()
        finally:
            await etcd.close()
        if self._keeper.lost.is_set():
            self._set_lost()

    def _set_lost(self) -> None:
        if self._main_loop is not None:
            # The main loop may have closed already, at shutdown: nobody to tell.
            with contextlib.suppress(RuntimeError):
                self._main_loop.call_soon_threadsafe(self.lost.set)

    async def _ask_main_loop(self) -> bool:
        """The peers' outage check, run on the main loop (whose HTTP client it uses)."""
        assert self._everyone_cut_off is not None and self._main_loop is not None
        check = self._everyone_cut_off

        async def ask() -> bool:
            return await check()

        future = asyncio.run_coroutine_threadsafe(ask(), self._main_loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), _OUTAGE_CHECK_SECONDS)
        except (TimeoutError, concurrent.futures.CancelledError):
            log.warning(
                "lease %x: the node did not answer whether peers reach etcd within %.0fs",
                self._lease_id,
                _OUTAGE_CHECK_SECONDS,
            )
            return False
