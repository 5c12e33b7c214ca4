"""DNS aliases as users edit them: checked, then written by compare-and-swap.

An alias write reads every alias, checks the new one against them (no cycle,
no reserved name) and writes it only if none changed since the read, so two
concurrent edits can never close a cycle together. A lost race reads again;
after `ALIAS_WRITE_ATTEMPTS` lost races in a row the write is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ozymandias.cluster.records import DnsAlias
from ozymandias.dns.skydns_layout import checked_alias, qualify
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

# This many lost races in a row while writing one alias is a conflict.
ALIAS_WRITE_ATTEMPTS = 5


class AliasStore(Protocol):
    """The alias part of the DnsStore (store/dns_store.py) this service uses."""

    @property
    def domain(self) -> str: ...

    async def read_aliases(self) -> dict[str, tuple[DnsAlias, int]]: ...

    async def put_alias(self, alias: DnsAlias, basis: dict[str, tuple[DnsAlias, int]]) -> bool: ...

    async def delete_alias(self, name: str) -> bool: ...


class AliasConflict(Exception):
    """Other alias edits kept landing while writing one: the caller may retry."""

    def __init__(self, name: str, attempts: int) -> None:
        super().__init__(f"alias {name!r} lost {attempts} races to concurrent alias edits")
        self.name = name
        self.attempts = attempts


class DnsAliasService:
    """Reads and edits of the aliases users define in the cluster domain."""

    def __init__(self, store: AliasStore, *, attempts: int = ALIAS_WRITE_ATTEMPTS) -> None:
        self._store = store
        self._attempts = attempts

    @property
    def domain(self) -> str:
        return self._store.domain

    def full_name(self, name: str) -> str:
        """A name as a user writes it (`db`, `Front.`) as the alias's full name."""
        return qualify(name, self._store.domain)

    async def list_aliases(self) -> list[DnsAlias]:
        """Every alias, by name."""
        aliases = await self._store.read_aliases()
        return [alias for _, (alias, _) in sorted(aliases.items(), key=lambda item: item[0])]

    async def get_alias(self, full_name: str) -> DnsAlias | None:
        entry = (await self._store.read_aliases()).get(full_name)
        return entry[0] if entry is not None else None

    async def put_alias(self, name: str, targets: Sequence[str]) -> DnsAlias:
        """Create or replace the alias `name` (as a user writes it) with `targets`.

        Raises AliasRejected (skydns_layout) for an alias that must not be
        stored, and AliasConflict after `attempts` lost races in a row.
        """

        async def attempt(_: int) -> DnsAlias | Lost:
            basis = await self._store.read_aliases()
            others = {other: alias.targets for other, (alias, _) in basis.items()}
            full, full_targets = checked_alias(name, targets, others, self._store.domain)
            alias = DnsAlias(name=full, targets=full_targets)
            return alias if await self._store.put_alias(alias, basis) else LOST

        return await retry_on_conflict(
            attempt, give_up=lambda attempts: AliasConflict(name, attempts), attempts=self._attempts
        )

    async def delete_alias(self, full_name: str) -> bool:
        """Remove an alias; False if there was none."""
        return await self._store.delete_alias(full_name)
