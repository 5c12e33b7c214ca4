"""What an operator may ask of a running deployment: promote its canaries, or fail it.

Both only mark the deployment record (compare-and-swap on its revision); the
deployer, on some node, reads the mark at its next step and does the work
(continue the rollout, or fail and revert). So the API never races the
deployer with a rollout step of its own: at worst its write loses the CAS,
and it reads the record again and decides afresh.

The decisions (`promote`, `request_failure`) are pure; `OperatorActions` is
the shell that reads, decides and writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ozymandias.cluster.records import Deployment
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

log = logging.getLogger(__name__)

# A deployer steps the record at most every few hundred milliseconds, so a
# few lost races in a row mean something else is wrong: say so, do not spin.
MAX_ATTEMPTS = 5


class DeploymentRefused(Exception):
    """The deployment is not in a state the request applies to (a 409 for the API)."""

    def __init__(self, slug: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.title = title
        self.detail = detail


def _no_active(job: str, deployment: Deployment | None) -> DeploymentRefused:
    if deployment is None:
        detail = f"job {job!r} has no deployment"
    else:
        detail = (
            f"the deployment of {job!r} version {deployment.version} is already {deployment.status}"
        )
    return DeploymentRefused("no-active-deployment", "No active deployment", detail)


def promote(job: str, deployment: Deployment | None, now: float) -> Deployment:
    """The deployment with its canaries promoted; unchanged when they already are.

    Raises `DeploymentRefused` when it is not active, or has no canaries.
    """
    if deployment is None or not deployment.status.active:
        raise _no_active(job, deployment)
    if deployment.update.canary == 0:
        raise DeploymentRefused(
            "nothing-to-promote",
            "Nothing to promote",
            f"the deployment of {job!r} version {deployment.version} has no canaries: "
            "it rolls out without a promotion",
        )
    if deployment.promoted:
        return deployment
    return deployment.model_copy(update={"promoted": True, "updated_at": now})


def request_failure(job: str, deployment: Deployment | None, by: str, now: float) -> Deployment:
    """The deployment marked to be failed `by` someone; unchanged when it already is.

    Raises `DeploymentRefused` when it is not active.
    """
    if deployment is None or not deployment.status.active:
        raise _no_active(job, deployment)
    if deployment.fail_requested:
        return deployment
    return deployment.model_copy(update={"fail_requested": by, "updated_at": now})


Decision = Callable[[Deployment | None, float], Deployment]


class OperatorActions:
    """Promote or fail a job's deployment in etcd, for the API (any node may)."""

    def __init__(self, store: ClusterStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def promote(self, job: str) -> Deployment:
        promoted = await self._change(job, lambda current, now: promote(job, current, now))
        log.info(
            "%s: deployment of version %d promoted",
            job,
            promoted.version,
            extra={"job": job, "version": promoted.version},
        )
        return promoted

    async def fail(self, job: str, by: str) -> Deployment:
        failed = await self._change(
            job, lambda current, now: request_failure(job, current, by, now)
        )
        log.info(
            "%s: failing the deployment of version %d, as %s asked",
            job,
            failed.version,
            by,
            extra={"job": job, "version": failed.version},
        )
        return failed

    async def _change(self, job: str, decide: Decision) -> Deployment:
        """Read the deployment, decide, and write it if nobody wrote it since."""

        async def attempt(_: int) -> Deployment | Lost:
            current, revision = await self._store.read_deployment(job)
            wanted = decide(current, self._clock())
            if wanted == current:
                return wanted
            won = await self._store.update_deployment(wanted, revision)
            return wanted if won else LOST

        def give_up(attempts: int) -> Exception:
            return DeploymentRefused(
                "deployment-busy",
                "The deployment kept changing",
                f"the deployment of {job!r} changed under each of {attempts} attempts; try again",
            )

        return await retry_on_conflict(attempt, give_up=give_up, attempts=MAX_ATTEMPTS)
