"""/v1/rebalance: the moves that would even out allocation across the nodes (nothing is written).

The plan is the pure `scheduling/rebalance.py` over this node's mirrors
(`deployments/rebalance_runner.plan_from_mirrors`); which instances may move is
`deployments/rebalance.py`'s rule.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.services import Services
from ozymandias.cluster.records import Resources, instance_name
from ozymandias.deployments.rebalance_runner import plan_from_mirrors

router = APIRouter(tags=["nodes"])


class PlannedMove(BaseModel):
    job: str
    instance: str
    source: str = Field(alias="from")
    target: str = Field(alias="to")


class NodeBalance(BaseModel):
    name: str
    capacity: Resources
    before: Resources
    after: Resources


class RebalancePlanView(BaseModel):
    moves: list[PlannedMove]
    nodes: list[NodeBalance] = Field(description="each eligible node's allocation")
    mean_share: float = Field(
        alias="meanShare", description="the cluster's allocated share of memory or CPU"
    )
    lower_bound: int = Field(
        alias="lowerBound", description="the fewest moves any plan reaching as even a cluster needs"
    )


@router.get(
    "/v1/rebalance",
    dependencies=[requires(Role.READ)],
    response_model=RebalancePlanView,
    response_model_by_alias=True,
)
async def rebalance_plan(
    services: Services,
    threshold: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            description="leave nodes within this fraction of the mean alone (0.2: 20 points)",
        ),
    ] = 0.0,
) -> RebalancePlanView:
    """The moves that would even out allocated memory (and CPU) across the live, uncordoned
    nodes, and each node's allocation before and after. Nothing is moved."""
    mirrors = services.mirrors
    plan = plan_from_mirrors(mirrors, threshold)
    capacities = {node.name: node.capacity for node in mirrors.node_list()}
    return RebalancePlanView(
        moves=[
            PlannedMove.model_validate(
                {
                    "job": move.job,
                    "instance": instance_name(move.job, move.index),
                    "from": move.source,
                    "to": move.target,
                }
            )
            for move in plan.moves
        ],
        nodes=[
            NodeBalance(name=name, capacity=capacities[name], before=before, after=plan.after[name])
            for name, before in sorted(plan.before.items())
        ],
        meanShare=plan.mean_share,
        lowerBound=plan.lower_bound,
    )
