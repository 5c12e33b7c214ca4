"""Sealed secrets in etcd, and the id of the key new seals use.

Only sealed records are written here (see secrets/sealing.py): nothing in
this module ever holds a value in the clear. Every node reads the records
through its `secrets` mirror; the writes below are compare-and-swap, so two
admins setting one secret at once cannot both win with the same version.
"""

from __future__ import annotations

from ozymandias.cluster.records import SealedSecret
from ozymandias.store import keys
from ozymandias.store.etcd import Delete, Etcd, Guard, Put, Unchanged


class SecretStore:
    def __init__(self, etcd: Etcd) -> None:
        self._etcd = etcd

    async def read(self, name: str) -> tuple[SealedSecret | None, int]:
        """The secret and its mod revision (0 when there is none), from etcd itself."""
        found = await self._etcd.get(keys.secret(name))
        if found is None:
            return None, 0
        return SealedSecret.from_json(found.value), found.mod_revision

    async def read_all(self) -> list[tuple[SealedSecret, int]]:
        _, pairs = await self._etcd.scan(keys.SECRETS)
        return [(SealedSecret.from_json(pair.value), pair.mod_revision) for pair in pairs]

    async def active_key_id(self) -> tuple[str | None, int]:
        """The id of the key new seals use, and its mod revision (None, 0: none chosen yet)."""
        found = await self._etcd.get(keys.SECRETS_KEY_ID)
        if found is None:
            return None, 0
        return found.value.decode(), found.mod_revision

    async def write(
        self, secret: SealedSecret, revision: int, *, key_id_revision: int | None = None
    ) -> int | None:
        """Store `secret` if its record is still at `revision` (0: absent); its revision, or None.

        With `key_id_revision`, also only if the cluster's choice of key is
        still at that revision, so no secret is sealed with a key a rotation
        has just replaced; when there is no choice yet (0), the secret's key
        becomes it: the first secret of a cluster chooses its key.
        """
        guards: list[Guard] = [Unchanged(keys.secret(secret.name), revision)]
        operations = [Put(keys.secret(secret.name), secret.to_json())]
        if key_id_revision is not None:
            guards.append(Unchanged(keys.SECRETS_KEY_ID, key_id_revision))
            if key_id_revision == 0:
                operations.append(Put(keys.SECRETS_KEY_ID, secret.key_id.encode()))
        outcome = await self._etcd.transaction(guards, operations)
        return outcome.revision if outcome.applied else None

    async def choose_key(self, key_id: str) -> int:
        """Make `key_id` the key new seals use; returns the revision of the write."""
        return await self._etcd.put(keys.SECRETS_KEY_ID, key_id.encode())

    async def delete(self, name: str, revision: int) -> bool:
        """Delete the secret if its record is still at `revision`."""
        key = keys.secret(name)
        outcome = await self._etcd.transaction([Unchanged(key, revision)], [Delete(key)])
        return outcome.applied
