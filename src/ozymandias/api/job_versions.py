"""/v1/jobs/{name}/versions and /rollback: a job's kept versions, and going back to one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ozymandias.acl.roles import Role
from ozymandias.api import views
from ozymandias.api.auth import requires
from ozymandias.api.errors import submit
from ozymandias.api.problems import read_json_body
from ozymandias.api.services import Services
from ozymandias.cluster.records import DeploymentStatus
from ozymandias.ingress.routes import conflicts_added
from ozymandias.jobs.history import Rollback
from ozymandias.jobs.versions import HistoryEntry

router = APIRouter(tags=["jobs"])


class _Answer(BaseModel):
    # Built from the fields' own names; answered under their aliases (camelCase).
    model_config = ConfigDict(populate_by_name=True)


class VersionView(_Answer):
    version: int
    submitted_at: float = Field(alias="submittedAt", description="Unix time")
    deployment_status: DeploymentStatus | None = Field(
        alias="deploymentStatus", description="null until the version's deployment starts"
    )
    stable: bool = Field(description="its deployment succeeded: `rollback` may go back to it")
    current: bool = Field(description="the job's version now")
    summary: str = Field(description="what changed since the previous version kept, in one line")


class RollbackView(_Answer):
    """What PUT /v1/jobs/{name} answers, and which version the spec came from."""

    warnings: list[str]
    name: str
    dry_run: bool = Field(alias="dryRun")
    created: bool
    changed: bool = Field(description="false when the version's spec is the current one")
    version: int = Field(description="the job's version now (a new one when changed)")
    num_instances: int = Field(alias="numInstances")
    placements: dict[int, str] = Field(description="instance index -> node")
    placed: dict[int, str]
    stopped: list[int]
    rolled_back_to: int = Field(alias="rolledBackTo", description="the version whose spec it is")
    changes: str = Field(description="what the rollback changes in the current spec")


class RollbackRequest(BaseModel):
    version: int | None = Field(
        None, ge=1, description="the version to go back to; default: the last stable one"
    )


_ROLLBACK_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The version to go back to, as JSON (any content type); none, or no"
        " body, for the newest stable version before the current one.",
        "content": {"application/json": {"schema": RollbackRequest.model_json_schema()}},
    }
}


@router.get(
    "/v1/jobs/{name}/versions",
    response_model=list[VersionView],
    dependencies=[requires(Role.READ)],
)
async def job_versions(name: str, services: Services) -> list[VersionView]:
    """The job's last versions (those kept: 10), newest first."""
    entries = await submit(services.history.versions(name), name)
    return [_version_view(entry) for entry in entries]


@router.post(
    "/v1/jobs/{name}/rollback",
    response_model=RollbackView,
    openapi_extra=_ROLLBACK_BODY_DOC,
    dependencies=[requires(Role.DEPLOY)],
)
async def rollback_job(
    name: str,
    request: Request,
    services: Services,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
) -> RollbackView:
    """Submit a kept version's whole spec again (its instance count too), as a new version.

    Without a version, the newest stable one before the current version;
    409 `no-stable-version` when there is none. `dryRun=true` tells which
    version and what changes, without committing.
    """
    wanted = _parse_rollback(await request.body()).version
    work = services.history.rollback(name, wanted, dry_run=dry_run)
    rollback = await submit(work, name)
    # As PUT warns: the restored spec may take ingress from, or lose it to, another job.
    others = [record.spec for record in services.mirrors.jobs.items.values()]
    warnings = [f"ingress: {c}" for c in conflicts_added(rollback.result.job.spec, others)]
    return _rollback_view(rollback, warnings)


def _parse_rollback(body: bytes) -> RollbackRequest:
    """The request, read as JSON whatever the content type; no body asks for the default."""
    return read_json_body(RollbackRequest, body, empty_is_default=True)


def _version_view(entry: HistoryEntry) -> VersionView:
    return VersionView(
        version=entry.version,
        submitted_at=entry.submitted_at,
        deployment_status=entry.deployment_status,
        stable=entry.stable,
        current=entry.current,
        summary=entry.summary,
    )


def _rollback_view(rollback: Rollback, warnings: list[str]) -> RollbackView:
    answer = views.apply_result(rollback.result, warnings)
    return RollbackView.model_validate(
        {**answer, "rolledBackTo": rollback.target, "changes": rollback.changes}
    )
