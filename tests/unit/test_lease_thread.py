"""The lease keeper's own thread (store/lease_thread.py): a blocked event loop cannot starve it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import cast

from ozymandias.store.etcd import Etcd, StoreUnavailable
from ozymandias.store.lease_thread import LeaseThread


class FakeLeaseEtcd:
    """Answers refreshes (or fails them while `down`), noting which thread asked."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.refreshes: list[str] = []
        self.closed = False

    async def refresh_lease(self, lease_id: int) -> int:
        if self.down:
            raise StoreUnavailable("etcd is down")
        self.refreshes.append(threading.current_thread().name)
        return 5

    async def close(self) -> None:
        self.closed = True


async def test_the_lease_is_refreshed_while_the_event_loop_is_blocked() -> None:
    etcd = FakeLeaseEtcd()
    keeper = LeaseThread(lambda: cast(Etcd, etcd), 0xAB, 1, fence_after=1.0)
    task = asyncio.create_task(keeper.run())
    await asyncio.sleep(0.1)
    # Three times the fence-after time with the loop held, as a long plan would hold it.
    time.sleep(3.0)  # noqa: ASYNC251 (holding the loop is the point)
    assert not keeper.lost.is_set()
    assert keeper.silent_for < 1.0
    assert len(etcd.refreshes) >= 5
    assert set(etcd.refreshes) == {"lease-ab"}
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert etcd.closed


async def test_a_lease_etcd_does_not_refresh_is_lost_on_the_main_loop() -> None:
    etcd = FakeLeaseEtcd(down=True)
    keeper = LeaseThread(lambda: cast(Etcd, etcd), 0xCD, 1, fence_after=1.0)
    task = asyncio.create_task(keeper.run())
    await asyncio.wait_for(keeper.lost.wait(), 20)
    await asyncio.wait_for(task, 20)
    assert etcd.closed


async def test_a_busy_main_loop_counts_as_peers_still_reaching_etcd() -> None:
    async def everyone_cut_off() -> bool:
        return True

    etcd = FakeLeaseEtcd(down=True)
    keeper = LeaseThread(
        lambda: cast(Etcd, etcd), 0xEF, 1, fence_after=1.0, everyone_cut_off=everyone_cut_off
    )
    task = asyncio.create_task(keeper.run())
    await asyncio.sleep(0.1)
    # The loop cannot answer the outage check while held: the keeper gives the lease up.
    time.sleep(4.0)  # noqa: ASYNC251 (holding the loop is the point)
    await asyncio.wait_for(keeper.lost.wait(), 20)
    await asyncio.wait_for(task, 20)


async def test_peers_cut_off_too_keep_the_lease_held() -> None:
    etcd = FakeLeaseEtcd(down=True)

    async def everyone_cut_off() -> bool:
        return True

    keeper = LeaseThread(
        lambda: cast(Etcd, etcd), 0x12, 1, fence_after=1.0, everyone_cut_off=everyone_cut_off
    )
    task = asyncio.create_task(keeper.run())
    await asyncio.sleep(2.5)
    assert not keeper.lost.is_set()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_keeper_stopped_as_it_starts_ends_and_refreshes_nothing() -> None:
    etcd = FakeLeaseEtcd()
    keeper = LeaseThread(lambda: cast(Etcd, etcd), 0x34, 1, fence_after=1.0)
    task = asyncio.create_task(keeper.run())
    await asyncio.sleep(0)  # the thread may not have recorded its task yet
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    refreshed = len(etcd.refreshes)
    await asyncio.sleep(1.0)  # three refresh intervals
    assert len(etcd.refreshes) == refreshed
    assert not [thread for thread in threading.enumerate() if thread.name == "lease-34"]
