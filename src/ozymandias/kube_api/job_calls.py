"""The job service's refusals, and the ozy API's problems, as Kubernetes Status errors.

The write side submits through the very calls the ozy API makes (the job
spec's validation and limits in api/jobs.py, JobService.apply and delete), so
their refusals come as `Problem`s; kubectl understands only a Status, and
prints its `message` after `Error from server (Reason):`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from ozymandias.api.errors import submit
from ozymandias.api.problems import Problem
from ozymandias.kube.status import Cause, KubeError, conflict, invalid, not_found, status

T = TypeVar("T")

_REASONS = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    422: "Invalid",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
# The ozy problems that say the spec itself is wrong: each of their `errors` is a field's.
_SPEC_PROBLEMS = frozenset({"invalid-job", "limit-exceeded", "ingress-port-out-of-range"})
MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


async def job_call(work: Awaitable[T], kind: str, name: str) -> T:
    """Await a job-service call (through api/errors.py's `submit`), its refusals as Statuses."""
    try:
        return await submit(work, name)
    except Problem as problem:
        raise kube_error(problem, kind, name) from None


def kube_error(problem: Problem, kind: str, name: str) -> KubeError:
    """The Status that says what `problem` says, for the object `kind` `name`."""
    if problem.status == 404:
        return not_found(kind, name)
    if problem.slug == "job-modified":
        return conflict(kind, name, MODIFIED)
    if problem.slug in _SPEC_PROBLEMS:
        errors: list[str] = problem.extra.get("errors") or [problem.detail]
        return invalid(kind, name, [_spec_cause(error) for error in errors])
    reason = _REASONS.get(problem.status, "InternalError")
    details: dict[str, Any] = {"name": name}
    return KubeError(status(problem.status, reason, problem.detail, details))


def _spec_cause(error: str) -> Cause:
    # The job spec's own problems read "containers.app.memory: must be ..."; the field named
    # is the job's (there is no way back to the Deployment's), which still shows the value.
    field, separator, message = error.partition(": ")
    if not separator:
        field, message = "", error
    return {
        "reason": "FieldValueInvalid",
        "message": message,
        "field": f"job.{field}" if field else "job",
    }
