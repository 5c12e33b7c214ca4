"""The ozy API's problems, as the Status errors kubectl prints."""

from __future__ import annotations

import asyncio

import pytest

from ozymandias.api.problems import Problem
from ozymandias.jobs.errors import JobNotFound, JobRejected
from ozymandias.kube.status import KubeError
from ozymandias.kube_api.job_calls import job_call, kube_error


@pytest.mark.parametrize(
    ("problem", "code", "reason", "message"),
    [
        (
            Problem(404, "job-not-found", "No such job", "there is no job named 'web'"),
            404,
            "NotFound",
            'deployments.apps "web" not found',
        ),
        (
            Problem(409, "job-modified", "Job modified", "job web changed"),
            409,
            "Conflict",
            'Operation cannot be fulfilled on deployments.apps "web": the object has been'
            " modified; please apply your changes to the latest version and try again",
        ),
        (
            Problem(
                400,
                "invalid-job",
                "Invalid job spec",
                "containers.app.memory: must be a size",
                errors=["containers.app.memory: must be a size"],
            ),
            422,
            "Invalid",
            'Deployment.apps "web" is invalid: job.containers.app.memory: must be a size',
        ),
        (
            Problem(422, "unknown-secret", "Unknown secret", "secret db does not exist"),
            422,
            "Invalid",
            "secret db does not exist",
        ),
        (
            Problem(503, "store-unavailable", "etcd is unavailable", "no etcd"),
            503,
            "ServiceUnavailable",
            "no etcd",
        ),
        (
            Problem(418, "teapot", "Teapot", "short and stout"),
            418,
            "InternalError",
            "short and stout",
        ),
    ],
)
def test_kube_error(problem: Problem, code: int, reason: str, message: str) -> None:
    error = kube_error(problem, "Deployment", "web")
    assert (error.code, error.reason, error.status["message"]) == (code, reason, message)


def test_an_invalid_spec_names_each_field_in_its_causes() -> None:
    errors = ["containers.app.memory: must be a size", "numInstances: at most 10"]
    problem = Problem(400, "invalid-job", "Invalid job spec", "; ".join(errors), errors=errors)
    causes = kube_error(problem, "Deployment", "web").status["details"]["causes"]
    assert [(c["field"], c["message"]) for c in causes] == [
        ("job.containers.app.memory", "must be a size"),
        ("job.numInstances", "at most 10"),
    ]


@pytest.mark.parametrize(
    ("refusal", "reason"),
    [
        (JobNotFound("web"), "NotFound"),
        (JobRejected("does-not-fit", "Does not fit", "no node has 64G", status=422), "Invalid"),
    ],
)
def test_job_call_turns_a_service_refusal_into_a_status(refusal: Exception, reason: str) -> None:
    async def refused() -> None:
        raise refusal

    with pytest.raises(KubeError) as raised:
        asyncio.run(job_call(refused(), "Deployment", "web"))
    assert raised.value.reason == reason
