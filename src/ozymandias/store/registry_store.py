"""Registry logins in etcd: one record per registry, its password sealed.

Only sealed records pass here (see registries/service.py); every node reads
them through its `registries` mirror when it pulls.
"""

from __future__ import annotations

from ozymandias.cluster.records import RegistryLogin
from ozymandias.store import keys
from ozymandias.store.etcd import Delete, Etcd, Unchanged


class RegistryStore:
    def __init__(self, etcd: Etcd) -> None:
        self._etcd = etcd

    async def write(self, login: RegistryLogin) -> int:
        """Store the login (a newer one replaces it); the revision of the write."""
        return await self._etcd.put(keys.registry(login.registry), login.to_json())

    async def delete(self, registry: str) -> bool:
        """Forget the registry's login; False if there was none."""
        key = keys.registry(registry)
        found = await self._etcd.get(key)
        if found is None:
            return False
        outcome = await self._etcd.transaction([Unchanged(key, found.mod_revision)], [Delete(key)])
        return outcome.applied
