"""The HTTP API every node serves: jobs, nodes, instances, events and logs.

Handlers only translate HTTP to calls on the job service (which plans and
commits) and reads of the cluster mirrors (which every node keeps), so any
node can answer any request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any, TypeVar

import httpx
from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ozymandias.agent.node_agent import NodeAgent
from ozymandias.api import views
from ozymandias.api.problems import (
    Problem,
    handle_http_error,
    handle_problem,
    handle_unexpected_error,
    handle_validation_error,
)
from ozymandias.cluster.records import DnsAlias, Node, describe_storage_domain
from ozymandias.dns.skydns_layout import AliasRejected, checked_alias, qualify
from ozymandias.ingress.controller import current_routes
from ozymandias.jobs.service import JobNotFound, JobRejected, JobService, VolumeNotFound
from ozymandias.spec.loader import SpecError, load_job
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_store import ClusterMirrors, ClusterStore
from ozymandias.store.dns_store import DnsStore
from ozymandias.store.etcd import StoreUnavailable

_JOB_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A job spec, as JSON or as YAML (the same document `ozy apply -f` reads).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


T = TypeVar("T")


class ScaleRequest(BaseModel):
    num_instances: int = Field(alias="numInstances", ge=0, le=100_000)


class AliasRequest(BaseModel):
    targets: list[str] = Field(
        min_length=1, description="names of jobs, pods, nodes or aliases, e.g. db.job"
    )


# Alias writes compare the revisions of every alias they read (so two edits
# can't close a cycle together); this many lost races in a row is a conflict.
_ALIAS_WRITE_ATTEMPTS = 5


def create_app(
    *,
    service: JobService,
    mirrors: ClusterMirrors,
    store: ClusterStore,
    agent: NodeAgent,
    node: Node,
    dns: DnsStore,
    ingress_port: int,
) -> FastAPI:
    app = FastAPI(
        title="Ozymandias",
        version="0.1.0",
        description="Submit, scale and inspect jobs. Every error is application/problem+json.",
    )
    app.add_exception_handler(Problem, handle_problem)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(Exception, handle_unexpected_error)

    @app.get("/healthz", tags=["node"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "node": node.name}

    @app.put("/v1/jobs/{name}", tags=["jobs"], openapi_extra=_JOB_BODY_DOC)
    async def put_job(
        name: str, request: Request, dry_run: Annotated[bool, Query(alias="dryRun")] = False
    ) -> JSONResponse:
        spec = _parse_job(await request.body(), name)
        result = await _submit(service.apply(spec, dry_run=dry_run), name)
        status = 201 if result.created and not dry_run else 200
        return JSONResponse(views.apply_result(result), status_code=status)

    @app.post("/v1/jobs/{name}", tags=["jobs"], openapi_extra=_JOB_BODY_DOC)
    async def plan_job(
        name: str, request: Request, dry_run: Annotated[bool, Query(alias="dryRun")] = True
    ) -> JSONResponse:
        """Plan a job without committing it (only `dryRun=true` is accepted here)."""
        if not dry_run:
            raise Problem(
                405,
                "method-not-allowed",
                "Use PUT to submit",
                "POST only plans: use PUT /v1/jobs/{name} to submit.",
            )
        spec = _parse_job(await request.body(), name)
        result = await _submit(service.apply(spec, dry_run=True), name)
        return JSONResponse(views.apply_result(result))

    @app.get("/v1/jobs", tags=["jobs"])
    async def list_jobs() -> list[dict[str, Any]]:
        return [views.job_summary(record, mirrors) for record in _sorted_jobs(mirrors)]

    @app.get("/v1/jobs/{name}", tags=["jobs"])
    async def get_job(name: str) -> dict[str, Any]:
        record = mirrors.job(name)
        if record is None:
            raise _job_not_found(name)
        return views.job_detail(record, mirrors, await store.list_events(name, limit=20))

    @app.post("/v1/jobs/{name}/scale", tags=["jobs"])
    async def scale_job(
        name: str,
        body: Annotated[ScaleRequest, Body()],
        dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    ) -> dict[str, Any]:
        result = await _submit(service.scale(name, body.num_instances, dry_run=dry_run), name)
        return views.apply_result(result)

    @app.delete("/v1/jobs/{name}", tags=["jobs"])
    async def delete_job(
        name: str, purge_volumes: Annotated[bool, Query(alias="purgeVolumes")] = False
    ) -> dict[str, Any]:
        """Delete a job. Its shared volumes are kept unless `purgeVolumes=true`."""
        kept, purged = await _submit(service.delete(name, purge_volumes=purge_volumes), name)
        return {"name": name, "deleted": True, "keptVolumes": kept, "purgedVolumes": purged}

    @app.get("/v1/volumes", tags=["volumes"])
    async def list_volumes() -> list[dict[str, Any]]:
        """Shared volumes (kept ones too) and every node's local volumes, with usage."""
        reports = await _store_call(store.volume_usage())
        return views.volumes_view(mirrors.shared_volumes(), reports, mirrors)

    @app.delete("/v1/volumes/{job}/{name}", tags=["volumes"], status_code=202)
    async def delete_volume(
        job: str, name: str, response: Response, forget: bool = False
    ) -> dict[str, Any]:
        """Remove a shared volume no job uses; a node in its zone removes the data.

        `forget=true` drops its record at once (200) and frees its space, leaving
        its data on the zone's storage: for a zone no live node reaches any more.
        """
        full_name = f"{job}/{name}"
        try:
            volume = await service.delete_volume(job, name, forget=forget)
        except VolumeNotFound:
            raise Problem(
                404, "volume-not-found", "No such volume", f"there is no shared volume {full_name}"
            ) from None
        except JobRejected as rejection:
            raise Problem(
                rejection.status, rejection.kind, rejection.title, rejection.detail
            ) from None
        except StoreUnavailable as error:
            raise Problem(503, "store-unavailable", "etcd is unavailable", str(error)) from None
        reachable = any(
            node.shared_storage is not None and node.storage_domain == volume.domain
            for node in mirrors.node_list()
        )
        if forget:
            response.status_code = 200
        return {
            "name": full_name,
            "deleting": not forget,
            "forgotten": forget,
            "size": volume.size,
            "where": describe_storage_domain(volume.domain),
            "reachable": reachable,
        }

    @app.get("/v1/nodes", tags=["nodes"])
    async def list_nodes() -> list[dict[str, Any]]:
        allocated, cordoned = mirrors.allocated(), mirrors.cordoned()
        return [
            views.node_view(n, allocated, cordoned)
            for n in sorted(mirrors.node_list(), key=lambda n: n.name)
        ]

    @app.post("/v1/nodes/{name}/cordon", tags=["nodes"])
    async def cordon_node(name: str) -> dict[str, Any]:
        """Place no new instances on the node; those it runs stay."""
        return await _set_cordon(name, True)

    @app.post("/v1/nodes/{name}/uncordon", tags=["nodes"])
    async def uncordon_node(name: str) -> dict[str, Any]:
        return await _set_cordon(name, False)

    async def _set_cordon(name: str, cordoned: bool) -> dict[str, Any]:
        if name not in {known.name for known in mirrors.node_list()}:
            raise Problem(404, "node-not-found", "No such node", f"no live node is named {name!r}")
        await store.set_cordon(name, cordoned)
        return {"name": name, "cordoned": cordoned}

    @app.get("/v1/instances", tags=["instances"])
    async def list_instances(job: str | None = None) -> list[dict[str, Any]]:
        if job is not None and mirrors.job(job) is None:
            raise _job_not_found(job)
        names = [job] if job else [record.spec.name for record in _sorted_jobs(mirrors)]
        return [item for name in names for item in views.instances_of(name, mirrors)]

    @app.get("/v1/ingress", tags=["ingress"])
    async def list_ingress() -> dict[str, Any]:
        """Every node's ingress routes, with their healthy backends (the same on every node)."""
        return views.ingress_view(current_routes(mirrors, ingress_port))

    @app.get("/v1/events", tags=["events"])
    async def list_events(job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return [event.model_dump() for event in await store.list_events(job, limit=limit)]

    @app.get("/v1/dns/aliases", tags=["dns"])
    async def list_aliases() -> list[dict[str, Any]]:
        aliases = await _store_call(dns.read_aliases())
        return [alias.model_dump() for name, (alias, _) in sorted(aliases.items())]

    @app.get("/v1/dns/aliases/{name}", tags=["dns"])
    async def get_alias(name: str) -> dict[str, Any]:
        full = qualify(name, dns.domain)
        aliases = await _store_call(dns.read_aliases())
        if full not in aliases:
            raise _alias_not_found(full)
        return aliases[full][0].model_dump()

    @app.put("/v1/dns/aliases/{name}", tags=["dns"])
    async def put_alias(name: str, body: Annotated[AliasRequest, Body()]) -> dict[str, Any]:
        """Create or replace an alias: it resolves to the union of its healthy targets."""
        for _ in range(_ALIAS_WRITE_ATTEMPTS):
            basis = await _store_call(dns.read_aliases())
            others = {other: a.targets for other, (a, _) in basis.items()}
            try:
                full, targets = checked_alias(name, body.targets, others, dns.domain)
            except AliasRejected as rejection:
                status = 400 if rejection.kind == "invalid-dns-alias" else 422
                raise Problem(status, rejection.kind, rejection.title, rejection.detail) from None
            alias = DnsAlias(name=full, targets=targets)
            if await _store_call(dns.put_alias(alias, basis)):
                return alias.model_dump()
        raise Problem(
            409,
            "dns-alias-conflict",
            "DNS aliases changed concurrently",
            f"other alias edits kept landing while writing {name!r}; retry",
        )

    @app.delete("/v1/dns/aliases/{name}", tags=["dns"])
    async def delete_alias(name: str) -> dict[str, Any]:
        full = qualify(name, dns.domain)
        if not await _store_call(dns.delete_alias(full)):
            raise _alias_not_found(full)
        return {"name": full, "deleted": True}

    @app.get("/v1/instances/{instance}/logs", tags=["instances"])
    async def instance_logs(
        instance: str,
        container: str | None = None,
        follow: bool = False,
        tail: int | None = None,
    ) -> StreamingResponse:
        job_name, index, owner = _locate_instance(instance, mirrors)
        record = mirrors.job(job_name)
        assert record is not None
        container = container or next(iter(record.spec.containers))
        if container not in record.spec.containers:
            raise Problem(
                404,
                "container-not-found",
                "No such container",
                f"job {job_name} has no container {container!r}; "
                f"it has {', '.join(record.spec.containers)}",
            )
        if owner == node.name:
            stream = agent.logs(job_name, index, container, follow=follow, tail=tail)
        else:
            stream = _proxy_logs(mirrors, owner, instance, container, follow, tail)
        return StreamingResponse(stream, media_type="text/plain")

    return app


async def _submit(work: Any, name: str) -> Any:
    """Await a job-service call, turning its refusals into problems."""
    try:
        return await work
    except JobNotFound:
        raise _job_not_found(name) from None
    except JobRejected as rejection:
        raise Problem(
            rejection.status, rejection.kind, rejection.title, rejection.detail, job=name
        ) from None
    except StoreUnavailable as error:
        raise Problem(
            503, "store-unavailable", "etcd is unavailable", str(error), job=name
        ) from None


async def _store_call(work: Awaitable[T]) -> T:
    try:
        return await work
    except StoreUnavailable as error:
        raise Problem(503, "store-unavailable", "etcd is unavailable", str(error)) from None


def _alias_not_found(name: str) -> Problem:
    return Problem(404, "dns-alias-not-found", "No such DNS alias", f"there is no alias {name!r}")


def _parse_job(body: bytes, name: str) -> JobSpec:
    """The job spec in a request body (YAML, or JSON, which is YAML too)."""
    try:
        spec = load_job(body)
    except SpecError as error:
        problems = [str(problem) for problem in error.problems]
        raise Problem(
            400, "invalid-job", "Invalid job spec", "; ".join(problems), errors=problems, job=name
        ) from None
    if spec.name != name:
        raise Problem(
            400,
            "name-mismatch",
            "Job name does not match the URL",
            f"the URL names job {name!r} but the spec names {spec.name!r}",
            job=name,
        )
    return spec


def _sorted_jobs(mirrors: ClusterMirrors) -> list[Any]:
    return sorted(mirrors.jobs.items.values(), key=lambda record: record.spec.name)


def _job_not_found(name: str) -> Problem:
    return Problem(404, "job-not-found", "No such job", f"there is no job named {name!r}", job=name)


def _locate_instance(instance: str, mirrors: ClusterMirrors) -> tuple[str, int, str]:
    job_name, _, index_text = instance.rpartition("-")
    schedule = mirrors.schedule(job_name) if index_text.isdigit() else None
    node_name = schedule.placements.get(int(index_text)) if schedule else None
    if schedule is None or node_name is None:
        raise Problem(
            404,
            "instance-not-found",
            "No such instance",
            f"there is no instance {instance!r}; instances are named <job>-<index>, e.g. web-0",
        )
    return job_name, int(index_text), node_name


async def _proxy_logs(
    mirrors: ClusterMirrors,
    owner: str,
    instance: str,
    container: str,
    follow: bool,
    tail: int | None,
) -> AsyncIterator[bytes]:
    """Logs of an instance on another node, fetched from that node's API."""
    peer = next((n for n in mirrors.node_list() if n.name == owner), None)
    if peer is None:
        yield f"node {owner} is not registered; its logs are unavailable\n".encode()
        return
    params: dict[str, Any] = {"container": container, "follow": follow}
    if tail is not None:
        params["tail"] = tail
    async with (
        httpx.AsyncClient(base_url=peer.api_url, timeout=None) as client,
        client.stream("GET", f"/v1/instances/{instance}/logs", params=params) as response,
    ):
        async for chunk in response.aiter_bytes():
            yield chunk
