"""A mirror's groups (instance statuses by job) follow its items: scan, puts, moves, deletes."""

from __future__ import annotations

import asyncio

from ozymandias.store.etcd import WatchEvent
from ozymandias.store.mirror import Mirror
from tests.unit.test_agent_with_fake_runtime import MemoryEtcd

PREFIX = b"/t/"


class DeletingEtcd(MemoryEtcd):
    async def delete(self, key: bytes) -> None:
        async with self._changed:
            self.revision += 1
            self.data.pop(key, None)
            self.log.append(WatchEvent(key, None, self.revision))
            self._changed.notify_all()


def by_group(mirror: Mirror[str]) -> dict[str, dict[bytes, str]]:
    """What the groups must be: the items, grouped by their value's first letter."""
    expected: dict[str, dict[bytes, str]] = {}
    for key, value in mirror.items.items():
        expected.setdefault(value[0], {})[key] = value
    return expected


async def test_groups_follow_the_items() -> None:
    etcd = DeletingEtcd()
    await etcd.put(PREFIX + b"1", b"apple")
    await etcd.put(PREFIX + b"2", b"avocado")
    mirror: Mirror[str] = Mirror(
        etcd,  # type: ignore[arg-type]
        PREFIX,
        lambda _, raw: raw.decode(),
        group_of=lambda value: value[0],
    )
    task = asyncio.create_task(mirror.run())
    try:
        await mirror.wait_synced()
        assert mirror.group("a") == {PREFIX + b"1": "apple", PREFIX + b"2": "avocado"}
        await etcd.put(PREFIX + b"3", b"banana")
        await etcd.put(PREFIX + b"2", b"blueberry")  # moves from group a to group b
        await etcd.delete(PREFIX + b"1")  # group a is left empty
        await etcd.put(PREFIX + b"4", b"cherry")
        async with asyncio.timeout(5):
            await mirror.wait_for_revision(etcd.revision)
        groups = {name: mirror.group(name) for name in "abc"}
        assert {name: items for name, items in groups.items() if items} == by_group(mirror)
        assert mirror.group("a") == {}
        assert mirror.group("b") == {PREFIX + b"3": "banana", PREFIX + b"2": "blueberry"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
