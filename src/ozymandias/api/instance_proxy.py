"""Finding the node that runs an instance, and passing a request on to its API.

Logs, exec and restart of an instance are served by the node that runs it;
any other node passes the request on to that node. The request carries the
caller's own `Authorization`, not the peers' credential (which opens no user
route), so the owner checks the caller's role as this node did; it goes over
https if the peer serves it (see peer_link.py). The owner's answer, errors
included, is passed back as it comes, so a stream is relayed, never held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ozymandias.api.problems import PROBLEM_MEDIA_TYPE, Problem
from ozymandias.api.services import ApiServices
from ozymandias.store.cluster_mirrors import ClusterMirrors


@dataclass(frozen=True)
class InstancePlace:
    """Where an instance runs: its job, its index, and its node."""

    job: str
    index: int
    node: str


def locate_instance(instance: str, mirrors: ClusterMirrors) -> InstancePlace:
    """The instance `JOB-INDEX`, or a system job's `JOB-NODE`, as placed now; a 404 problem
    if there is none."""
    place = _system_instance(instance, mirrors)
    if place is not None:
        return place
    job_name, _, index_text = instance.rpartition("-")
    schedule = mirrors.schedule(job_name) if index_text.isdigit() else None
    node_name = schedule.placements.get(int(index_text)) if schedule else None
    if schedule is None or node_name is None:
        raise Problem(
            404,
            "instance-not-found",
            "No such instance",
            f"there is no instance {instance!r}; instances are named <job>-<index>, e.g. web-0,"
            " and a system job's <job>-<node>",
        )
    return InstancePlace(job_name, int(index_text), node_name)


def _system_instance(instance: str, mirrors: ClusterMirrors) -> InstancePlace | None:
    """A system job's instance named `JOB-NODE`, if one is placed under that name.

    Job and node names may both hold '-', so every split is tried, the longest job name
    first (`a-b-c` is job `a-b` on node `c` before job `a` on node `b-c`, should both exist).
    """
    dashes = [position for position, char in enumerate(instance) if char == "-"]
    for position in reversed(dashes):
        job_name, node_name = instance[:position], instance[position + 1 :]
        record = mirrors.job(job_name)
        schedule = mirrors.schedule(job_name)
        if record is None or schedule is None or not record.spec.is_system:
            continue
        for index, node in schedule.placements.items():
            if node == node_name:
                return InstancePlace(job_name, index, node)
    return None


def container_of(place: InstancePlace, container: str | None, mirrors: ClusterMirrors) -> str:
    """The instance's container of that name (default: its job's first); a 404 problem if its
    job has none such."""
    record = mirrors.job(place.job)
    names = list(record.spec.containers) if record is not None else []
    chosen = container or (names[0] if names else "")
    if chosen not in names:
        raise Problem(
            404,
            "container-not-found",
            "No such container",
            f"job {place.job} has no container {chosen!r}; it has {', '.join(names)}",
        )
    return chosen


def caller_credential(request: Request) -> str:
    """The caller's `Authorization` header, to pass on to the owner."""
    return request.headers.get("authorization", "")


async def forward_to_owner(
    services: ApiServices,
    owner: str,
    instance: str,
    caller: str,
    method: str,
    path: str,
    **request: Any,
) -> Response:
    """The answer of node `owner` to `method path` (`request`: httpx's params, json),
    streamed back; a 503 problem if that node is gone or does not answer."""
    peer = next((n for n in services.mirrors.node_list() if n.name == owner), None)
    if peer is None:
        raise Problem(
            503, "node-unavailable", "Node unavailable", f"node {owner} runs {instance} but is gone"
        )
    client = services.peers.client(
        base_url=peer.api_url, timeout=None, headers={"authorization": caller}
    )
    try:
        response = await client.send(client.build_request(method, path, **request), stream=True)
    except httpx.HTTPError as error:
        await client.aclose()
        raise Problem(
            503, "node-unavailable", "Node unavailable", f"node {owner} did not answer: {error}"
        ) from None
    kind = response.headers.get("content-type", PROBLEM_MEDIA_TYPE)
    if response.is_error:
        body = await response.aread()
        await response.aclose()
        await client.aclose()
        return Response(body, status_code=response.status_code, media_type=kind)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()
            await client.aclose()

    return StreamingResponse(relay(), status_code=response.status_code, media_type=kind)
