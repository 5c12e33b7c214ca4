"""An etcd in memory, for benchmarks that fill a node's real mirrors without etcd or podman."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ozymandias.store.etcd import KeyValue, WatchEvent


class MemoryEtcd:
    """Scan and watch over a dict, each prefix's watchers woken by its own changes."""

    def __init__(self) -> None:
        self.data: dict[bytes, tuple[bytes, int]] = {}
        self.revision = 1
        self._watchers: dict[bytes, list[asyncio.Queue[WatchEvent]]] = {}

    def put(self, key: bytes, value: bytes) -> int:
        self.revision += 1
        self.data[key] = (value, self.revision)
        for prefix, queues in self._watchers.items():
            if key.startswith(prefix):
                for queue in queues:
                    queue.put_nowait(WatchEvent(key, value, self.revision))
        return self.revision

    async def scan(self, prefix: bytes) -> tuple[int, list[KeyValue]]:
        pairs = [
            KeyValue(key, value, revision, 0)
            for key, (value, revision) in sorted(self.data.items())
            if key.startswith(prefix)
        ]
        return self.revision, pairs

    async def watch_prefix(self, prefix: bytes, start_revision: int) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._watchers.setdefault(prefix, []).append(queue)
        while True:
            yield await queue.get()
