"""The DNS alias service's compare-and-swap writes, against a fake of the DnsStore: pure."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import DnsAlias
from ozymandias.dns.alias_service import (
    ALIAS_WRITE_ATTEMPTS,
    AliasConflict,
    DnsAliasService,
)
from ozymandias.dns.skydns_layout import AliasRejected

D = "cluster.local"


class FakeAliasStore:
    """The alias methods of DnsStore, in memory; the next `lose` writes lose their race."""

    domain = D

    def __init__(self, lose: int = 0) -> None:
        self.aliases: dict[str, tuple[DnsAlias, int]] = {}
        self.lose = lose
        self.reads = 0
        self.writes = 0
        self.revision = 0
        # Each lost race lands this alias, as a concurrent edit by a peer would.
        self.racer: DnsAlias | None = None

    async def read_aliases(self) -> dict[str, tuple[DnsAlias, int]]:
        self.reads += 1
        return dict(self.aliases)

    async def put_alias(self, alias: DnsAlias, basis: dict[str, tuple[DnsAlias, int]]) -> bool:
        self.writes += 1
        if self.lose > 0:
            self.lose -= 1
            if self.racer is not None:
                self._land(self.racer)
            return False
        if basis != self.aliases:
            return False
        self._land(alias)
        return True

    async def delete_alias(self, name: str) -> bool:
        return self.aliases.pop(name, None) is not None

    def _land(self, alias: DnsAlias) -> None:
        self.revision += 1
        self.aliases[alias.name] = (alias, self.revision)


async def test_a_write_that_loses_races_reads_again_and_lands() -> None:
    store = FakeAliasStore(lose=3)
    alias = await DnsAliasService(store).put_alias("Front.", ["web.job", "web.job"])
    assert alias == DnsAlias(name="front.cluster.local", targets=["web.job.cluster.local"])
    assert store.aliases["front.cluster.local"][0] == alias
    assert (store.reads, store.writes) == (4, 4)


async def test_a_write_gives_up_after_five_lost_races() -> None:
    store = FakeAliasStore(lose=100)
    with pytest.raises(AliasConflict) as raised:
        await DnsAliasService(store).put_alias("front", ["web.job"])
    assert ALIAS_WRITE_ATTEMPTS == 5
    assert (raised.value.name, raised.value.attempts) == ("front", 5)
    assert (store.reads, store.writes) == (5, 5)
    assert store.aliases == {}


async def test_a_retry_checks_against_what_the_race_landed() -> None:
    # A peer's edit lands during the first attempt and makes this alias close a cycle.
    store = FakeAliasStore(lose=1)
    store.racer = DnsAlias(name="b.cluster.local", targets=["a.cluster.local"])
    with pytest.raises(AliasRejected) as raised:
        await DnsAliasService(store).put_alias("a", ["b"])
    assert raised.value.kind == "dns-alias-cycle"
    assert store.writes == 1


async def test_a_rejected_alias_is_never_written() -> None:
    store = FakeAliasStore()
    with pytest.raises(AliasRejected) as raised:
        await DnsAliasService(store).put_alias("x.job", ["web.job"])
    assert raised.value.kind == "reserved-dns-name"
    assert store.writes == 0


async def test_reads_and_deletes_go_by_full_name() -> None:
    store = FakeAliasStore()
    service = DnsAliasService(store)
    await service.put_alias("zeta", ["web.job"])
    await service.put_alias("alpha", ["db.job"])
    assert [alias.name for alias in await service.list_aliases()] == [
        "alpha.cluster.local",
        "zeta.cluster.local",
    ]
    full = service.full_name("Alpha.")
    assert full == "alpha.cluster.local"
    got = await service.get_alias(full)
    assert got is not None and got.targets == ["db.job.cluster.local"]
    assert await service.delete_alias(full)
    assert not await service.delete_alias(full)
    assert await service.get_alias(full) is None
