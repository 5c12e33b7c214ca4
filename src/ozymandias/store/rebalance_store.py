"""Reading and writing the rebalance record (`/ozy/rebalance/current`).

One record: starting a rebalance replaces the last one only if it ended, and
every step is a compare-and-swap on its revision, so two nodes (or two
operators) never both act on the same state.
"""

from __future__ import annotations

from ozymandias.cluster.rebalance_record import Rebalance
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd, Put, Unchanged


async def read_rebalance(etcd: Etcd) -> tuple[Rebalance | None, int]:
    """The last rebalance and its revision (0 when there never was one)."""
    current = await etcd.get(keys.REBALANCE_CURRENT)
    if current is None:
        return None, 0
    return Rebalance.from_json(current.value), current.mod_revision


async def write_rebalance(etcd: Etcd, rebalance: Rebalance, revision: int) -> int:
    """Write the rebalance if the record is still at `revision` (0: absent): the write's
    revision, or 0 when the record changed meanwhile."""
    key = keys.REBALANCE_CURRENT
    outcome = await etcd.transaction([Unchanged(key, revision)], [Put(key, rebalance.to_json())])
    return outcome.revision if outcome.applied else 0
