"""POST /v1/rebalance: carry out the moves; GET /v1/rebalance/current: how far they got.

The moves are planned here, from this node's mirrors, and written as one
record (`/ozy/rebalance/current`); the deployers carry them out (see
`deployments/rebalance_run.py`). One rebalance at a time: a second is refused
with 409 while the first has moves left.

Admin only, as a drain: a rebalance moves instances of every team's jobs and
is the cluster's business, whereas a deploy token acts on the jobs it ships
(README, "Tokens and roles").
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.errors import store_call
from ozymandias.api.problems import Problem, read_json_body
from ozymandias.api.services import Services
from ozymandias.cluster.rebalance_record import MoveState, Rebalance
from ozymandias.cluster.records import instance_name
from ozymandias.deployments.rebalance_run import new_rebalance
from ozymandias.deployments.rebalance_runner import plan_from_mirrors
from ozymandias.store.rebalance_store import read_rebalance, write_rebalance

router = APIRouter(tags=["nodes"])

MAX_MOVES_IN_FLIGHT = 100


class RebalanceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    max_moves: int = Field(
        2, alias="maxMoves", ge=1, le=MAX_MOVES_IN_FLIGHT, description="moves in flight at once"
    )
    threshold: float = Field(
        0.0, ge=0, le=1, description="leave nodes within this fraction of the mean alone"
    )


class MoveView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    job: str
    instance: str
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    state: MoveState
    started_at: float = Field(alias="startedAt", description="0 until its deployment started")
    reason: str = Field(description="why it failed or was skipped")


class RebalanceView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: str = Field(description="running, succeeded, or failed (a move failed)")
    started_at: float = Field(alias="startedAt")
    finished_at: float = Field(alias="finishedAt", description="0 while moves are left")
    max_moves: int = Field(alias="maxMoves")
    threshold: float
    trigger: str = Field(
        description="why the cluster started it (--auto-rebalance); empty: an operator did"
    )
    counts: dict[str, int] = Field(description="moves per state")
    moves: list[MoveView]


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "How many moves at once, and which nodes are close enough to the mean.",
        "content": {"application/json": {"schema": RebalanceRequest.model_json_schema()}},
    }
}


@router.post(
    "/v1/rebalance",
    status_code=202,
    openapi_extra=_BODY_DOC,
    dependencies=[requires(Role.ADMIN)],
    response_model=RebalanceView,
    response_model_by_alias=True,
)
async def start_rebalance(request: Request, services: Services) -> RebalanceView:
    """Plan the moves that even out allocation, and start carrying them out: each new instance
    healthy on its target before the old one stops, at most `maxMoves` at once, one per job."""
    body = read_json_body(RebalanceRequest, await request.body(), empty_is_default=True)
    etcd = services.store.etcd
    last, revision = await store_call(read_rebalance(etcd))
    if last is not None and last.active:
        raise _running(last)
    plan = plan_from_mirrors(services.mirrors, body.threshold)
    rebalance = new_rebalance(plan, time.time(), max_moves=body.max_moves, threshold=body.threshold)
    if not await store_call(write_rebalance(etcd, rebalance, revision)):
        current, _ = await store_call(read_rebalance(etcd))
        raise _running(current or rebalance)
    return rebalance_view(rebalance)


@router.get(
    "/v1/rebalance/current",
    dependencies=[requires(Role.READ)],
    response_model=RebalanceView,
    response_model_by_alias=True,
)
async def rebalance_progress(services: Services) -> RebalanceView:
    """The last rebalance, running or ended, and the state of each of its moves."""
    etcd = services.store.etcd
    # Read from etcd, not the mirrors: a client that just started one must see it.
    rebalance, _ = await store_call(read_rebalance(etcd))
    if rebalance is None:
        raise Problem(
            404, "rebalance-not-found", "No rebalance", "no rebalance was started (`ozy rebalance`)"
        )
    return rebalance_view(rebalance)


def rebalance_view(rebalance: Rebalance) -> RebalanceView:
    status = "running" if rebalance.active else "failed" if rebalance.failed else "succeeded"
    counts = {state.value: 0 for state in MoveState}
    for move in rebalance.moves:
        counts[move.state.value] += 1
    return RebalanceView(
        status=status,
        started_at=rebalance.started_at,
        finished_at=rebalance.finished_at,
        max_moves=rebalance.max_moves,
        threshold=rebalance.threshold,
        trigger=rebalance.trigger,
        counts=counts,
        moves=[
            MoveView(
                job=move.job,
                instance=instance_name(move.job, move.index),
                source=move.source,
                target=move.target,
                state=move.state,
                started_at=move.started_at,
                reason=move.reason,
            )
            for move in rebalance.moves
        ],
    )


def _running(rebalance: Rebalance) -> Problem:
    left = sum(1 for move in rebalance.moves if not move.state.ended)
    return Problem(
        409,
        "rebalance-running",
        "A rebalance is running",
        f"a rebalance started at {time.strftime('%H:%M:%S', time.gmtime(rebalance.started_at))}"
        f" UTC has {left} move(s) left; follow it with `ozy rebalance --follow`",
    )
