"""ClusterStore's connection methods: `ping` reads under the root key, `close` closes the client."""

from __future__ import annotations

from typing import cast

import pytest

from ozymandias.store import keys
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd, StoreUnavailable


class FakeEtcd:
    def __init__(self) -> None:
        self.reads: list[bytes] = []
        self.closed = False
        self.down = False

    async def get(self, key: bytes) -> None:
        if self.down:
            raise StoreUnavailable("etcd is down")
        self.reads.append(key)

    async def close(self) -> None:
        self.closed = True


async def test_ping_reads_the_root_and_close_closes() -> None:
    etcd = FakeEtcd()
    store = ClusterStore(cast(Etcd, etcd))
    await store.ping()
    assert etcd.reads == [keys.ROOT] == [b"/ozy/"]
    etcd.down = True
    with pytest.raises(StoreUnavailable):
        await store.ping()
    await store.close()
    assert etcd.closed
