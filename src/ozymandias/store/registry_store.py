"""Registry logins in etcd: one record per registry, its password sealed.

Only sealed records pass here (see registries/service.py); every node reads
them through its `registries` mirror when it pulls.
"""

from __future__ import annotations

from ozymandias.cluster.records import RegistryLogin
from ozymandias.store import keys
from ozymandias.store.etcd import Delete, Etcd, Put, Unchanged


class RegistryStore:
    def __init__(self, etcd: Etcd) -> None:
        self._etcd = etcd

    async def write(self, login: RegistryLogin) -> int:
        """Store the login (a newer one replaces it); the revision of the write."""
        return await self._etcd.put(keys.registry(login.registry), login.to_json())

    async def read_all(self) -> list[tuple[RegistryLogin, int]]:
        """Every login with its mod revision, from etcd itself."""
        _, pairs = await self._etcd.scan(keys.REGISTRIES)
        return [(RegistryLogin.from_json(pair.value), pair.mod_revision) for pair in pairs]

    async def replace(self, login: RegistryLogin, revision: int) -> bool:
        """Store `login` only if its record is still at `revision` (a login meanwhile wins)."""
        key = keys.registry(login.registry)
        outcome = await self._etcd.transaction(
            [Unchanged(key, revision)], [Put(key, login.to_json())]
        )
        return outcome.applied

    async def delete(self, registry: str) -> bool:
        """Forget the registry's login; False if there was none."""
        key = keys.registry(registry)
        found = await self._etcd.get(key)
        if found is None:
            return False
        outcome = await self._etcd.transaction([Unchanged(key, found.mod_revision)], [Delete(key)])
        return outcome.applied
