"""Deployments as the write side reads and writes them: a job, through the ozy API's own calls.

A Deployment is read from this node's mirrors (the job, its deployment
record, its instances), and written by turning it into a job spec (K1's
mapping, which refuses what has no mapping) that is validated and limited
as a submitted body is (api/jobs.py's `checked_job`) and submitted with
`JobService.apply`, as `ozy apply` does: a spec change rolls out as a new
version under the job's update policy; a replicas-only change scales.
"""

from __future__ import annotations

from typing import Any

from ozymandias.api import views
from ozymandias.api.jobs import checked_job
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices
from ozymandias.cluster.records import JobRecord
from ozymandias.jobs.service import ApplyResult
from ozymandias.kube.deployment_spec import REVISION_ANNOTATION, job_spec_from_deployment
from ozymandias.kube.status import not_found
from ozymandias.kube_api import convert
from ozymandias.kube_api.job_calls import job_call, kube_error
from ozymandias.kube_api.kinds import DEPLOYMENTS

KIND = "Deployment"


async def read_deployment(services: ApiServices, name: str) -> dict[str, Any]:
    """The Deployment `name` as the reads serve it; a NotFound Status if there is no such job."""
    deployment = await DEPLOYMENTS.one(services, name)
    if deployment is None:
        raise not_found(KIND, name)
    return deployment


def as_deployment(services: ApiServices, record: JobRecord) -> dict[str, Any]:
    """`record`, as a dry run would make the job, as a Deployment (built as the reads build
    the live one, from this node's mirrors, so only what the write changes differs)."""
    mirrors = services.mirrors
    name = record.spec.name
    statuses = [
        status
        for view in views.instances_of(name, mirrors)
        if (status := mirrors.instance_status(view["job"], view["index"])) is not None
    ]
    return convert.deployment(
        record, mirrors.deployment(name), statuses, mirrors.job_revision(name)
    )


async def write_deployment(
    services: ApiServices,
    name: str,
    deployment: dict[str, Any],
    *,
    dry_run: bool,
    check_index: int | None,
) -> tuple[ApplyResult, dict[str, Any]]:
    """Submit `deployment` as the job `name` (only at `check_index`, if given: 0 means only
    if there is none); the result and the Deployment as read back, or as it would be."""
    data = job_spec_from_deployment(deployment)
    try:
        spec = checked_job(data, name, services)
    except Problem as problem:
        raise kube_error(problem, KIND, name) from None
    result = await job_call(
        services.jobs.apply(spec, dry_run=dry_run, check_index=check_index), KIND, name
    )
    if dry_run:
        return result, _as_dry_run(services, result.job)
    # apply returns once this node's mirrors show the commit.
    return result, await read_deployment(services, name)


def _as_dry_run(services: ApiServices, planned: JobRecord) -> dict[str, Any]:
    """The Deployment a write would leave, as the apiserver answers a dry run: what the
    request changes (metadata, spec, and the generation a spec change bumps), over the live
    object's times, status and revision, which only the rollout would change. So the answer
    differs from the live object exactly where the write does (`kubectl diff` shows that)."""
    live = services.mirrors.job(planned.spec.name)
    if live is None:
        return as_deployment(services, planned)
    shown = as_deployment(services, planned.model_copy(update={"submitted_at": live.submitted_at}))
    current = as_deployment(services, live)
    annotations = shown["metadata"].setdefault("annotations", {})
    kept = current["metadata"].get("annotations", {}).get(REVISION_ANNOTATION)
    if kept is not None:
        annotations[REVISION_ANNOTATION] = kept
    shown["status"] = current["status"]
    return shown
