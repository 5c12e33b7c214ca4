"""GET /metrics: the node's metrics in Prometheus' text format (see docs/metrics.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from ozymandias.acl.roles import Role
from ozymandias.api.auth import requires

router = APIRouter(tags=["node"])


@router.get(
    "/metrics",
    dependencies=[requires(Role.READ)],
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics() -> Response:
    """Every metric of this node, for Prometheus to scrape (a `read` token is needed)."""
    # On the event loop, not a thread: the collectors read state the loop owns,
    # and each read is a lookup in memory (no etcd, nothing that grows with the cluster).
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
