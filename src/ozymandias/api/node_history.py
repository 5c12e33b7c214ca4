"""GET /v1/nodes/{name}/allocation-history: a node's allocation over the last hour."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services

router = APIRouter(tags=["nodes"])


@router.get("/v1/nodes/{name}/allocation-history", dependencies=[requires(Role.READ)])
async def allocation_history(
    name: Annotated[str, Path(max_length=253)], services: Services
) -> dict[str, Any]:
    """Samples of what is allocated on the node, and its capacity, oldest first: one on each
    change (at most one every 5 s) and one a minute, for the last hour as this node saw it.
    A node that left keeps its samples until they are an hour old."""
    history = services.allocation_history
    samples = history.samples(name)
    live = any(node.name == name for node in services.mirrors.node_list())
    if not samples and not live:
        raise Problem(404, "node-not-found", "No such node", f"no node named {name!r} was seen")
    return {
        "node": name,
        "windowSeconds": history.window,
        "samples": [
            {
                "time": sample.time,
                "allocated": sample.allocated.model_dump(),
                "capacity": sample.capacity.model_dump(),
            }
            for sample in samples
        ],
    }
