"""API tokens and the peers' credential in etcd.

Tokens are read by every node through its `tokens` mirror (so checking one
costs no etcd read, and a revocation reaches every node as fast as a watch
event); this module only writes them, and makes the bootstrap happen once.
"""

from __future__ import annotations

from ozymandias.acl.tokens import new_secret
from ozymandias.cluster.records import AclToken, PeerCredential
from ozymandias.store import keys
from ozymandias.store.etcd import CommitOutcomeUnknown, Delete, Etcd, Exists, Put, Unchanged


class AclStore:
    def __init__(self, etcd: Etcd) -> None:
        self._etcd = etcd

    async def bootstrap(self, token: AclToken) -> int | None:
        """Store the first admin token and return the revision it was written at; None if the
        cluster was bootstrapped already.

        One transaction guarded on the bootstrap marker's absence: two nodes
        asked at once cannot both answer with a token. If its answer is lost,
        the token is read back: a bootstrap that applied unseen would leave the
        cluster with an admin secret no one holds.
        """
        try:
            outcome = await self._etcd.transaction(
                [Unchanged(keys.ACL_BOOTSTRAP, 0)],
                [
                    Put(keys.ACL_BOOTSTRAP, str(token.create_time).encode()),
                    Put(keys.acl_token(token.accessor), token.to_json()),
                ],
            )
        except CommitOutcomeUnknown:
            stored = await self._etcd.get(keys.acl_token(token.accessor))
            if stored is None:
                raise  # it did not apply: the caller may ask again
            return stored.mod_revision
        return outcome.revision if outcome.applied else None

    async def create_token(self, token: AclToken) -> int:
        """Store a token; returns the revision it was written at."""
        return await self._etcd.put(keys.acl_token(token.accessor), token.to_json())

    async def revoke_token(self, accessor: str) -> int | None:
        """Delete a token; returns the revision of the delete, None if there was no such token."""
        key = keys.acl_token(accessor)
        outcome = await self._etcd.transaction([Exists(key)], [Delete(key)])
        return outcome.revision if outcome.applied else None

    async def peer_credential(self) -> PeerCredential:
        """The cluster's peer credential, made by the first node that asks."""
        made = PeerCredential(secret=new_secret())
        await self._etcd.transaction(
            [Unchanged(keys.ACL_PEER, 0)], [Put(keys.ACL_PEER, made.to_json())]
        )
        stored = await self._etcd.get(keys.ACL_PEER)
        assert stored is not None, "the peer credential was just written"
        return PeerCredential.from_json(stored.value)
