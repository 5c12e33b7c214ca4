"""/v1/jobs: submit, plan, list, inspect, scale and delete jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ozymandias.acl.roles import Role
from ozymandias.api import list_pages, views
from ozymandias.api.auth import require_role, requires
from ozymandias.api.errors import job_not_found, submit
from ozymandias.api.problems import Problem, read_json_body
from ozymandias.api.services import ApiServices, Services
from ozymandias.api.watch_stream import LastEventId, Watch
from ozymandias.ingress.port_range import ports_outside_range
from ozymandias.ingress.routes import conflicts_added
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.service import ApplyResult
from ozymandias.spec.loader import SpecError, check_instances, load_job
from ozymandias.spec.models import JobSpec
from ozymandias.watch.feeds import JOB

router = APIRouter(tags=["jobs"])


def _job_schemas() -> dict[str, Any]:
    """The job spec's models, for the OpenAPI document's components (see openapi.py)."""
    schema = JobSpec.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {"JobSpec": schema, **definitions}


JOB_SCHEMAS = _job_schemas()

_JOB_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A job spec, as JSON or as YAML (the same document `ozy apply -f` reads).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/JobSpec"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


class ScaleRequest(BaseModel):
    # The node's own limit (ozy node run --max-instances) is checked after.
    num_instances: int = Field(alias="numInstances", ge=0)


@router.put("/v1/jobs/{name}", openapi_extra=_JOB_BODY_DOC, dependencies=[requires(Role.DEPLOY)])
async def put_job(
    name: str,
    request: Request,
    services: Services,
    check_index: Annotated[int | None, Query(alias="checkIndex", ge=0)] = None,
) -> JSONResponse:
    """Create or update a job. With `checkIndex`, only if the job is still at that modify index
    (0: only if it does not exist), else 409 `job-modified`; `ozy plan` shows the index."""
    spec = await _parse_job_off_the_loop(await request.body(), name, services)
    warnings = _warnings(spec, services)
    result = await submit(services.jobs.apply(spec, check_index=check_index), name)
    status = 201 if result.created else 200
    return JSONResponse(views.apply_result(result, warnings), status_code=status)


@router.post(
    "/v1/jobs/{name}/plan", openapi_extra=_JOB_BODY_DOC, dependencies=[requires(Role.DEPLOY)]
)
async def plan_job(name: str, request: Request, services: Services) -> dict[str, Any]:
    """What submitting the job would do, writing nothing: the diff against the current version,
    each instance's fate and node, whether it fits (a refusal is part of the answer, not an
    error), and the job's modify index (for `PUT ...?checkIndex=`)."""
    spec = await _parse_job_off_the_loop(await request.body(), name, services)
    warnings = _warnings(spec, services)
    outcome = await submit(_result_or_rejection(services.jobs.apply(spec, dry_run=True)), name)
    if isinstance(outcome, JobRejected):
        mirrors = services.mirrors
        return views.job_plan(
            spec, mirrors.job(name), mirrors.job_revision(name), outcome, warnings
        )
    return views.job_plan(spec, outcome.previous, outcome.modify_index, outcome, warnings)


async def _result_or_rejection(work: Awaitable[ApplyResult]) -> ApplyResult | JobRejected:
    try:
        return await work
    except JobRejected as rejection:
        return rejection


def _warnings(spec: JobSpec, services: ApiServices) -> list[str]:
    """What the submit is allowed to do but should tell: ingress it takes from, or loses to,
    another job (the route goes to the job first by name)."""
    others = [record.spec for record in services.mirrors.jobs.items.values()]
    return [f"ingress: {conflict}" for conflict in conflicts_added(spec, others)]


@router.get(
    "/v1/jobs",
    dependencies=[requires(Role.READ)],
    response_model=list[dict[str, Any]],
    responses=list_pages.LIST_RESPONSES,
)
async def list_jobs(
    request: Request,
    response: Response,
    services: Services,
    watch: Watch = False,
    last_event_id: LastEventId = None,
    limit: list_pages.Limit = None,
    continue_: list_pages.Continue = None,
) -> Any:
    if watch:
        return services.watches.open(request, JOB, last_event_id)
    mirrors = services.mirrors
    if list_pages.paged(limit, continue_):
        start = await list_pages.cursor(mirrors.jobs, continue_, list_pages.JOB_KEY)
        entries = list_pages.job_entries(mirrors, start.after if start else None)
        return list_pages.page(response, entries, limit, mirrors.jobs, start)
    return [views.job_summary(record, mirrors) for record in views.sorted_jobs(mirrors)]


@router.get("/v1/jobs/{name}", dependencies=[requires(Role.READ)])
async def get_job(name: str, services: Services) -> dict[str, Any]:
    record = services.mirrors.job(name)
    if record is None:
        raise job_not_found(name)
    events = await services.store.list_events(name, limit=20)
    return views.job_detail(record, services.mirrors, events)


_SCALE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The new number of instances, as JSON (any content type, as for a job).",
        "content": {"application/json": {"schema": ScaleRequest.model_json_schema()}},
    }
}


@router.post(
    "/v1/jobs/{name}/scale", openapi_extra=_SCALE_BODY_DOC, dependencies=[requires(Role.DEPLOY)]
)
async def scale_job(
    name: str,
    request: Request,
    services: Services,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
) -> dict[str, Any]:
    body = _parse_scale(await request.body())
    if problem := check_instances(body.num_instances, services.spec_limits):
        raise _limit_exceeded(SpecError([problem]), name)
    work = services.jobs.scale(name, body.num_instances, dry_run=dry_run)
    return views.apply_result(await submit(work, name))


@router.post("/v1/jobs/{name}/restart", dependencies=[requires(Role.DEPLOY)])
async def restart_job(name: str, services: Services) -> dict[str, Any]:
    """Replace the job's pods one instance at a time, as a new version of the same spec."""
    return views.apply_result(await submit(services.jobs.restart(name), name))


def _limit_exceeded(error: SpecError, name: str) -> Problem:
    problems = [str(problem) for problem in error.problems]
    flags = ", ".join(f"--{limit}" for limit in error.limits)
    return Problem(
        422,
        "limit-exceeded",
        "Limit exceeded",
        "; ".join(problems) + f" (this node's limit: ozy node run {flags})",
        errors=problems,
        limits=error.limits,
        job=name,
    )


def _parse_scale(body: bytes) -> ScaleRequest:
    return read_json_body(ScaleRequest, body)


@router.delete("/v1/jobs/{name}", dependencies=[requires(Role.DEPLOY)])
async def delete_job(
    name: str,
    request: Request,
    services: Services,
    purge_volumes: Annotated[bool, Query(alias="purgeVolumes")] = False,
) -> dict[str, Any]:
    """Delete a job. Its shared volumes are kept unless `purgeVolumes=true` (an admin's call)."""
    if purge_volumes:
        require_role(request, Role.ADMIN, "purging a job's volumes")
    work = services.jobs.delete(name, purge_volumes=purge_volumes)
    kept, purged = await submit(work, name)
    return {"name": name, "deleted": True, "keptVolumes": kept, "purgedVolumes": purged}


# One thread for every body parsed: PyYAML is pure Python here (the loader
# counts as it composes), so a body near the size limit takes seconds, which
# must hold neither the event loop nor the default executor that plans run on.
_PARSING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spec-parsing")


async def _parse_job_off_the_loop(body: bytes, name: str, services: ApiServices) -> JobSpec:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_PARSING, _parse_job, body, name, services)


def _parse_job(body: bytes, name: str, services: ApiServices) -> JobSpec:
    """The job spec in a request body (YAML, or JSON, which is YAML too), within the node's
    limits; and its TCP ingress ports within the node's range."""
    try:
        spec = load_job(body, services.spec_limits)
    except SpecError as error:
        if error.limits:
            raise _limit_exceeded(error, name) from None
        problems = [str(problem) for problem in error.problems]
        raise Problem(
            400, "invalid-job", "Invalid job spec", "; ".join(problems), errors=problems, job=name
        ) from None
    return checked_spec(spec, name, services)


def checked_spec(spec: JobSpec, name: str, services: ApiServices) -> JobSpec:
    """A valid spec checked as a submitted body is past validation (the Kubernetes API's,
    made from a Deployment, too): its TCP ingress ports within the node's range, and named
    as the URL says; else the same problems."""
    port_range = services.ingress.tcp_port_range
    if outside := ports_outside_range(spec, port_range):
        problems = [str(problem) for problem in outside]
        raise Problem(
            422,
            "ingress-port-out-of-range",
            "TCP ingress port out of range",
            "; ".join(problems)
            + f" (ozy node run --ingress-tcp-ports {port_range[0]}-{port_range[1]})",
            errors=problems,
            job=name,
        )
    if spec.name != name:
        raise Problem(
            400,
            "name-mismatch",
            "Job name does not match the URL",
            f"the URL names job {name!r} but the spec names {spec.name!r}",
            job=name,
        )
    return spec
