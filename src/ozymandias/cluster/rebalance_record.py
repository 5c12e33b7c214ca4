"""A rebalance being carried out (`ozy rebalance`), as the cluster keeps it in etcd.

Shared vocabulary, like `records.py` (which is long enough): the API writes
it, the deployer steps it, the CLI shows it. Each move is carried out by a
deployment of its job's current version that pins the replacement on the
move's target (`Deployment.moves`); the record says which moves are left.
"""

from __future__ import annotations

import enum

from pydantic import Field

from ozymandias.cluster.records import Record


class MoveState(enum.StrEnum):
    PENDING = "pending"  # not started: waiting for a slot, or for its job's other move
    MOVING = "moving"  # its deployment runs: the new instance is starting on the target
    DONE = "done"  # the new instance counted healthy and the old one stopped
    FAILED = "failed"  # its deployment failed: the old instance still runs
    SKIPPED = "skipped"  # no longer applies (the instance or the target went meanwhile)

    @property
    def ended(self) -> bool:
        return self in (MoveState.DONE, MoveState.FAILED, MoveState.SKIPPED)


class RebalanceMove(Record):
    job: str
    index: int
    source: str
    target: str
    state: MoveState = MoveState.PENDING
    started_at: float = 0.0
    reason: str = Field("", description="why it failed or was skipped")


class Rebalance(Record):
    """The moves of one `ozy rebalance`, and how far each got."""

    started_at: float
    finished_at: float = Field(0.0, description="0 while moves are left")
    max_moves: int = Field(description="moves in flight at once")
    threshold: float
    trigger: str = Field("", description="why the cluster started it; empty: an operator did")
    nodes: list[str] = Field(
        default_factory=list, description="the eligible nodes when it was planned"
    )
    moves: list[RebalanceMove] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return not self.finished_at

    @property
    def failed(self) -> list[RebalanceMove]:
        return [move for move in self.moves if move.state is MoveState.FAILED]
