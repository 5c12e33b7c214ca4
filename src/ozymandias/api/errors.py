"""Refusals of the services below the API, as the problems the API answers with."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from ozymandias.api.problems import Problem
from ozymandias.deployments.operator_actions import DeploymentRefused
from ozymandias.jobs.errors import JobNotFound, JobRejected
from ozymandias.store.etcd import StoreUnavailable

T = TypeVar("T")


async def submit(work: Awaitable[T], name: str) -> T:
    """Await a job-service call, turning its refusals into problems."""
    try:
        return await work
    except JobNotFound:
        raise job_not_found(name) from None
    except JobRejected as rejection:
        extra = {"placement": rejection.placement} if rejection.placement is not None else {}
        raise Problem(
            rejection.status, rejection.kind, rejection.title, rejection.detail, job=name, **extra
        ) from None
    except StoreUnavailable as error:
        raise Problem(
            503, "store-unavailable", "etcd is unavailable", str(error), job=name
        ) from None


async def deployment_call(work: Awaitable[T], name: str) -> T:
    """Await an operator's action on a deployment; a refusal is a 409 (it is the
    deployment's state that does not allow it)."""
    try:
        return await work
    except DeploymentRefused as refusal:
        raise Problem(409, refusal.slug, refusal.title, refusal.detail, job=name) from None
    except StoreUnavailable as error:
        raise store_unavailable(error) from None


async def store_call(work: Awaitable[T]) -> T:
    """Await a store read or write; etcd being unavailable is a 503."""
    try:
        return await work
    except StoreUnavailable as error:
        raise store_unavailable(error) from None


def store_unavailable(error: StoreUnavailable) -> Problem:
    return Problem(503, "store-unavailable", "etcd is unavailable", str(error))


def job_not_found(name: str) -> Problem:
    return Problem(404, "job-not-found", "No such job", f"there is no job named {name!r}", job=name)
