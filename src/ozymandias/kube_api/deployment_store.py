"""Deployments as the write side reads and writes them: a job, through the ozy API's own calls.

A Deployment is read as the reads serve it (kinds.py), and written by
turning it into a job spec (kube/'s mapping, which refuses what has no
mapping) that is validated within the node's limits and checked as a
submitted body is (api/jobs.py's `checked_spec`), then submitted with
`JobService.apply`, as `ozy apply` does: a spec change rolls out as a new
version under the job's update policy; a replicas-only change scales. A
spec's problems are named by the Deployment fields they came from.
"""

from __future__ import annotations

from typing import Any

from ozymandias.api.jobs import checked_spec
from ozymandias.api.problems import Problem
from ozymandias.api.services import ApiServices
from ozymandias.cluster.records import JobRecord
from ozymandias.jobs.service import ApplyResult
from ozymandias.kube.deployment_spec import REVISION_ANNOTATION, job_spec_from_deployment
from ozymandias.kube.spec_errors import deployment_invalid
from ozymandias.kube.status import conflict, not_found
from ozymandias.kube_api import convert
from ozymandias.kube_api.job_calls import MODIFIED, job_call, kube_error
from ozymandias.kube_api.kinds import DEPLOYMENTS, deployment_of
from ozymandias.spec.loader import SpecError, job_from_data

KIND = "Deployment"


async def read_deployment(services: ApiServices, name: str) -> dict[str, Any]:
    """The Deployment `name` as the reads serve it; a NotFound Status if there is no such job."""
    deployment = await DEPLOYMENTS.one(services, name)
    if deployment is None:
        raise not_found(KIND, name)
    return deployment


def as_deployment(services: ApiServices, record: JobRecord) -> dict[str, Any]:
    """`record`, as a dry run would make the job, as a Deployment, before any instance of
    it reports (the dry run shows the live one's status)."""
    mirrors = services.mirrors
    name = record.spec.name
    return convert.deployment(record, mirrors.deployment(name), [], mirrors.job_revision(name))


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
    try:
        spec = job_from_data(job_spec_from_deployment(deployment), services.spec_limits)
    except SpecError as error:
        raise deployment_invalid(deployment, error) from None
    try:
        spec = checked_spec(spec, name, services)
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
    request changes (metadata, spec, and the generation a spec change bumps), with the live
    object's status and revision, which only the rollout would change. So the answer
    differs from the live object exactly where the write does (`kubectl diff` shows that)."""
    shown = as_deployment(services, planned)
    current = deployment_of(services.mirrors, planned.spec.name)
    if current is None:
        return shown
    annotations = shown["metadata"].setdefault("annotations", {})
    kept = current["metadata"].get("annotations", {}).get(REVISION_ANNOTATION)
    if kept is not None:
        annotations[REVISION_ANNOTATION] = kept
    shown["status"] = current["status"]
    return shown


def sent_resource_version(sent: dict[str, Any], live: dict[str, Any], name: str) -> str:
    """The `metadata.resourceVersion` a PUT carries ("" for none), a Conflict when the live
    Deployment (or its Scale) is not at it."""
    metadata = sent.get("metadata")
    version = str(metadata.get("resourceVersion") or "") if isinstance(metadata, dict) else ""
    if version and version != str(live["metadata"].get("resourceVersion")):
        raise conflict(KIND, name, MODIFIED)
    return version
