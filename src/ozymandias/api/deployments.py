"""Deployments: a job's rollout as the cluster follows it, and an operator's promote or fail.

Reads answer from this node's mirrors; promote and fail mark the record in
etcd (deployments/operator_actions.py) for the deployer to act on.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from ozymandias.acl.roles import Role
from ozymandias.api.auth import identity_of, requires
from ozymandias.api.deployment_views import (
    DeploymentDetail,
    DeploymentSummary,
    deployment_detail,
    deployment_summary,
)
from ozymandias.api.errors import deployment_call, job_not_found
from ozymandias.api.problems import Problem
from ozymandias.api.services import Services

router = APIRouter(tags=["deployments"])


@router.get(
    "/v1/jobs/{name}/deployment",
    response_model=DeploymentDetail,
    dependencies=[requires(Role.READ)],
)
async def get_deployment(name: str, services: Services) -> DeploymentDetail:
    """The job's newest deployment, with each instance's version, state, health and node."""
    mirrors = services.mirrors
    job = mirrors.job(name)
    if job is None:
        raise job_not_found(name)
    deployment = mirrors.deployment(name)
    if deployment is None:
        raise Problem(
            404,
            "deployment-not-found",
            "No deployment",
            f"job {name!r} has no deployment: no version of it has rolled out yet",
            job=name,
        )
    return deployment_detail(
        deployment, job, mirrors.schedule(name), mirrors.instance_statuses(name)
    )


@router.get(
    "/v1/deployments", response_model=list[DeploymentSummary], dependencies=[requires(Role.READ)]
)
async def list_deployments(services: Services) -> list[DeploymentSummary]:
    """The newest deployment of every job, by job name."""
    deployments = sorted(services.mirrors.deployments.items.values(), key=lambda d: d.job)
    return [deployment_summary(deployment) for deployment in deployments]


@router.post(
    "/v1/jobs/{name}/promote",
    response_model=DeploymentSummary,
    dependencies=[requires(Role.DEPLOY)],
)
async def promote(name: str, services: Services) -> DeploymentSummary:
    """Promote the canaries of the job's active deployment: the rollout goes on."""
    if services.mirrors.job(name) is None:
        raise job_not_found(name)
    promoted = await deployment_call(services.deployments.promote(name), name)
    return deployment_summary(promoted)


@router.post(
    "/v1/jobs/{name}/deployment/fail",
    response_model=DeploymentSummary,
    dependencies=[requires(Role.DEPLOY)],
)
async def fail(name: str, request: Request, services: Services) -> DeploymentSummary:
    """Fail the job's active deployment; with auto_revert, the job goes back to its last
    stable version."""
    if services.mirrors.job(name) is None:
        raise job_not_found(name)
    token = identity_of(request).token
    # The deployer's description reads "failed <by>".
    by = f"by token {token.name}" if token is not None else "by an operator"
    failed = await deployment_call(services.deployments.fail(name, by), name)
    return deployment_summary(failed)
