"""The node's lease (store/membership.py): taken, resumed, revoked after fencing, given back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest

from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.membership import Membership


class FakeEtcd:
    def __init__(self) -> None:
        self.leases: dict[int, int] = {}  # lease id -> seconds left
        self.next_id = 100
        self.revoked: list[int] = []
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("etcd is down")

    async def grant_lease(self, ttl: int) -> int:
        self._check()
        self.next_id += 1
        self.leases[self.next_id] = ttl
        return self.next_id

    async def lease_time_left(self, lease_id: int) -> int:
        self._check()
        return self.leases.get(lease_id, -1)

    async def revoke_lease(self, lease_id: int) -> None:
        self._check()
        self.leases.pop(lease_id, None)
        self.revoked.append(lease_id)


class FakeStore:
    def __init__(self, etcd: FakeEtcd) -> None:
        self.etcd = etcd
        self.registered: dict[str, int] = {}

    async def node_lease(self, name: str) -> int | None:
        return self.registered.get(name)


def membership(tmp_path: Path, etcd: FakeEtcd, store: FakeStore | None = None) -> Membership:
    store = store or FakeStore(etcd)
    return Membership(cast(ClusterStore, store), "n1", 5, tmp_path / "node" / "lease.json")


class Leftovers:
    def __init__(self, count: int) -> None:
        self.count = count
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.count


async def test_a_first_run_grants_a_lease_and_remembers_it(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    assert lease.lease_id == 0 and lease.current() == 0
    leftovers = Leftovers(3)
    await lease.take(leftovers)
    assert lease.lease_id == 101 and lease.current() == 101
    assert etcd.leases[101] == 5
    assert json.loads(lease.lease_file.read_text()) == {"lease_id": 101}
    assert leftovers.calls == 0  # no previous lease: nothing to clean up


async def test_a_live_previous_lease_is_resumed(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    etcd.leases[42] = 3
    lease = membership(tmp_path, etcd)
    lease.lease_file.parent.mkdir(parents=True)
    lease.lease_file.write_text(json.dumps({"lease_id": 42}))
    leftovers = Leftovers(3)
    await lease.take(leftovers)
    assert lease.lease_id == 42
    assert leftovers.calls == 0 and etcd.next_id == 100  # nothing granted


async def test_an_expired_previous_lease_removes_leftovers_and_starts_afresh(
    tmp_path: Path,
) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    lease.lease_file.parent.mkdir(parents=True)
    lease.lease_file.write_text(json.dumps({"lease_id": 42}))
    leftovers = Leftovers(2)
    await lease.take(leftovers)
    assert leftovers.calls == 1
    assert lease.lease_id == 101
    assert json.loads(lease.lease_file.read_text()) == {"lease_id": 101}


async def test_a_live_lease_held_by_another_daemon_is_not_resumed(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    etcd.leases[42] = 3
    store = FakeStore(etcd)
    store.registered["n1"] = 7  # the name is registered under another lease
    lease = membership(tmp_path, etcd, store)
    lease.lease_file.parent.mkdir(parents=True)
    lease.lease_file.write_text(json.dumps({"lease_id": 42}))
    await lease.take(Leftovers(0))
    assert lease.lease_id == 101


async def test_an_unreadable_lease_file_counts_as_none(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    lease.lease_file.parent.mkdir(parents=True)
    lease.lease_file.write_text("not json")
    leftovers = Leftovers(1)
    await lease.take(leftovers)
    assert leftovers.calls == 0 and lease.lease_id == 101


async def test_leave_revokes_and_forgets_the_lease(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    await lease.leave()  # never taken: nothing to give back
    assert etcd.revoked == []
    await lease.take(Leftovers(0))
    await lease.leave()
    assert etcd.revoked == [101]
    assert not lease.lease_file.exists()


async def test_leave_when_etcd_is_down_keeps_the_lease_for_the_next_run(tmp_path: Path) -> None:
    # The lease may still hold the node's record: a next run that took a new lease
    # would be refused the name until it expired, so it must resume this one.
    etcd = FakeEtcd()
    store = FakeStore(etcd)
    lease = membership(tmp_path, etcd, store)
    await lease.take(Leftovers(0))
    store.registered["n1"] = 101
    etcd.down = True
    await lease.leave()
    assert json.loads(lease.lease_file.read_text()) == {"lease_id": 101}
    etcd.down = False
    next_run = membership(tmp_path, etcd, store)
    await next_run.take(Leftovers(0))
    assert next_run.lease_id == 101 and etcd.next_id == 101  # resumed, none granted


async def test_the_term_is_begun_before_its_keeper_is_read(tmp_path: Path) -> None:
    lease = membership(tmp_path, FakeEtcd())
    with pytest.raises(RuntimeError):
        _ = lease.silent_for
    await lease.take(Leftovers(0))
    lease.begin_term()
    assert not lease.lost.is_set()
    assert 0 <= lease.silent_for < 1
    first = lease.lost
    lease.begin_term()
    assert lease.lost is not first  # each term starts afresh


async def test_rejoining_revokes_the_old_lease_once_etcd_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    await lease.take(Leftovers(0))
    etcd.down = True
    waits: list[float] = []
    real_wait_for = asyncio.wait_for

    async def quick_wait_for(awaitable: Any, delay: float) -> Any:
        waits.append(delay)
        if len(waits) == 5:
            etcd.down = False
        return await real_wait_for(awaitable, 0)

    monkeypatch.setattr(asyncio, "wait_for", quick_wait_for)
    assert await lease.wait_to_rejoin(asyncio.Event())
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0]  # doubling, up to 10s
    assert etcd.revoked == [101]


async def test_rejoining_gives_up_when_told_to_stop(tmp_path: Path) -> None:
    etcd = FakeEtcd()
    lease = membership(tmp_path, etcd)
    stopping = asyncio.Event()
    stopping.set()
    assert not await lease.wait_to_rejoin(stopping)
    assert etcd.revoked == []
