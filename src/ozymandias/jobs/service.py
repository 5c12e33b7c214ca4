"""Submitting, scaling and deleting jobs: plan with `scheduling`, commit with `store`.

Any node can do this; there is no leader. Each request plans from this
node's mirrors of the cluster state and commits with a compare-and-swap. If
a peer's commit got there first, the plan is recomputed from a fresh read
of etcd and tried again, a bounded number of times with jitter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ozymandias.cluster.records import (
    Deployment,
    Event,
    JobRecord,
    Resources,
    Schedule,
    SharedVolume,
    describe_storage_domain,
)
from ozymandias.deployments.begin import version_entry
from ozymandias.jobs.errors import JobNotFound, JobRejected, VolumeNotFound
from ozymandias.jobs.inputs import planning_inputs
from ozymandias.jobs.planning import (
    Placement,
    ended_status,
    new_version,
    next_version,
    place,
    pod_size,
)
from ozymandias.metrics.scheduler import PLAN_DURATION, count_commit, count_refusal
from ozymandias.scheduling.place import usage_by_node
from ozymandias.scheduling.preemption import DEFAULT_PREEMPTION, Preemptible
from ozymandias.secrets.references import secrets_used, unknown_references
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.job_commit import CommitOutcome
from ozymandias.store.planning_inputs import PlanningInputs
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

log = logging.getLogger(__name__)

# How long a request waits for this node's mirrors to show its own commit, so
# that a read right after a write sees it. Only a slow watch makes it wait.
_READ_YOUR_WRITES_SECONDS = 5.0


@dataclass(frozen=True)
class ApplyResult:
    job: JobRecord
    schedule: Schedule
    placed: dict[int, str]
    stopped: list[int]
    created: bool
    changed: bool
    dry_run: bool
    # What the plan was made against (for `ozy plan`'s diff): the job, its schedule, and the
    # job's modify index (its key's etcd mod revision; 0: no such job).
    previous: JobRecord | None = None
    previous_schedule: Schedule | None = None
    modify_index: int = 0
    # Instances of other jobs this one stops to make room (see scheduling/preemption.py).
    victims: tuple[Preemptible, ...] = ()


Planner = Callable[[PlanningInputs], tuple[JobRecord, Placement] | None]


class JobService:
    def __init__(
        self,
        store: ClusterStore,
        mirrors: ClusterMirrors,
        *,
        node_name: str,
        preemption: frozenset[str] = DEFAULT_PREEMPTION,
    ) -> None:
        """`preemption`: the job types this node lets stop lower-priority instances
        (`ozy node run --preemption`)."""
        self._store = store
        self._mirrors = mirrors
        self._node_name = node_name
        self._preemption = preemption

    async def apply(
        self, spec: JobSpec, *, dry_run: bool = False, check_index: int | None = None
    ) -> ApplyResult:
        """Create or update a job. Pods are recreated only if their spec changed.

        A job that uses a secret, or a key of one, that does not exist is
        refused (422) and nothing is written. With `check_index`, only a job
        still at that modify index is written (0: only a job that does not
        exist yet), else `#job-modified` (409), as `nomad job run -check-index`.
        """
        if problems := unknown_references(spec, self._mirrors.secret_keys()):
            raise JobRejected("unknown-secret", "Unknown secret", "; ".join(problems))
        secrets_revision = max(
            (self._mirrors.secret_revision(name) for name in secrets_used(spec)), default=0
        )

        fingerprint = spec.pod_fingerprint()

        def plan(inputs: PlanningInputs) -> tuple[JobRecord, Placement] | None:
            current = inputs.job
            if current is not None and current.spec == spec:
                return None  # nothing to do
            if current is not None and current.spec.type != spec.type:
                raise _type_changed(current.spec, spec)
            version = 1
            revision = secrets_revision
            if current is not None:
                same_pods = current.spec.pod_fingerprint() == spec.pod_fingerprint()
                version = current.version if same_pods else current.version + 1
                revision = current.secrets_revision if same_pods else secrets_revision
            now = time.time()
            record = JobRecord(
                spec=spec,
                version=version,
                submitted_at=now,
                created_at=current.created_since(now) if current is not None else now,
                secrets_revision=revision,
                stable_version=current.stable_version if current is not None else 0,
                older=current.older if current is not None else {},
            )
            previous = pod_size(current.spec) if current is not None else None
            if current is not None and version == current.version:
                # The same pods: the version's history entry takes the new spec.
                entry = version_entry(record, ended_status(record, inputs.deployment))
                return record, replace(place(spec, inputs, previous), new_version=entry)
            # Instances still running an older version with these very pods (the user
            # went back to it by hand, or `ozy rollback`) are kept, as a revert keeps them.
            satisfied = (
                [v for v, old in current.older.items() if old.pod_fingerprint() == fingerprint]
                if current is not None and revision == current.secrets_revision
                else []
            )
            return new_version(record, inputs, previous, satisfied_by=satisfied)

        return await self._plan_and_commit(
            spec.name,
            plan,
            dry_run=dry_run,
            must_exist=False,
            check_index=check_index,
            job_type=spec.type,
        )

    async def renew(self, name: str, secrets_revision: int) -> ApplyResult:
        """Roll out a new version of the job, as a secret it uses changed at `secrets_revision`
        (nothing if its version is that recent), so no container keeps a stale value."""

        def plan(inputs: PlanningInputs) -> tuple[JobRecord, Placement] | None:
            current = inputs.job
            assert current is not None
            if current.secrets_revision >= secrets_revision:
                return None
            return next_version(current, inputs, secrets_revision=secrets_revision)

        return await self._plan_and_commit(name, plan, dry_run=False, must_exist=True)

    async def revert(self, name: str, failed: Deployment, spec: JobSpec, stable: int) -> bool:
        """Deploy `spec`, stable version `stable`, as the next version of a job whose
        deployment `failed`; False if the job moved on meanwhile (nothing to revert)."""

        def plan(inputs: PlanningInputs) -> tuple[JobRecord, Placement] | None:
            current = inputs.job
            assert current is not None
            if current.version != failed.version:
                return None
            record = current.model_copy(
                update={"spec": spec, "version": current.version + 1, "submitted_at": time.time()}
            )
            same_pods = spec.pod_fingerprint() == current.spec.pod_fingerprint()
            satisfied = [stable] + ([current.version] if same_pods else [])
            return new_version(
                record,
                inputs,
                pod_size(current.spec),
                revert_of=failed.version,
                satisfied_by=satisfied,
                reason=failed.description,
            )

        result = await self._plan_and_commit(name, plan, dry_run=False, must_exist=True)
        return result.changed

    async def restart(self, name: str) -> ApplyResult:
        """Roll the job's pods afresh, one instance at a time (`ozy restart`): a new version of
        the same spec, through the normal rolling update."""

        def plan(inputs: PlanningInputs) -> tuple[JobRecord, Placement] | None:
            assert inputs.job is not None
            return next_version(inputs.job, inputs, submitted_at=time.time())

        return await self._plan_and_commit(name, plan, dry_run=False, must_exist=True)

    async def scale(self, name: str, count: int, *, dry_run: bool = False) -> ApplyResult:
        def plan(inputs: PlanningInputs) -> tuple[JobRecord, Placement] | None:
            current = inputs.job
            assert current is not None
            if current.spec.is_system:
                raise JobRejected(
                    "not-scalable",
                    "Job is not scalable",
                    f"job {name} is a system job: it runs one instance on every eligible node,"
                    " so numInstances does not apply; change its constraints or node labels"
                    " to change where it runs",
                )
            if current.spec.num_instances == count:
                return None
            spec = current.spec.model_copy(update={"num_instances": count})
            record = current.model_copy(update={"spec": spec})
            placement = place(spec, inputs, None)
            if inputs.deployment is not None and inputs.deployment.version == record.version:
                deployment = inputs.deployment.model_copy(update={"desired": count})
                placement = replace(placement, deployment=deployment)
            return record, placement

        return await self._plan_and_commit(name, plan, dry_run=dry_run, must_exist=True)

    async def delete(
        self, name: str, *, purge_volumes: bool = False
    ) -> tuple[list[str], list[str]]:
        """Delete a job and free what its instances held on their nodes.

        Its shared volumes are kept, so a job re-created under the name finds
        its data again, unless `purge_volumes`: then their removal is asked
        for in the same commit. Returns the names of the volumes kept, and of
        those being removed.
        """

        async def attempt(number: int) -> tuple[list[str], list[str]] | Lost:
            inputs = await self._inputs(name, fresh=number > 0)
            if inputs.job is None:
                raise JobNotFound(name)
            freed: dict[str, Resources] = {}
            if inputs.schedule is not None:
                usage = usage_by_node(inputs.schedule, pod_size(inputs.job.spec))
                freed = {node: Resources() - used for node, used in usage.items()}
            volumes = list(inputs.job_volumes().values())
            outcome = await self._store.commit(
                name,
                inputs,
                job=None,
                schedule=None,
                allocation_changes=freed,
                nodes_that_must_exist=[],
                volumes=[v.model_copy(update={"deleting": True}) for v in volumes]
                if purge_volumes
                else [],
            )
            count_commit(outcome.won)
            if not outcome.won:
                return LOST
            names = [volume.full_name for volume in volumes]
            message = f"job {name} deleted"
            if volumes:
                listing = ", ".join(volume.full_name for volume in volumes)
                message += (
                    f"; removing its shared volumes {listing}"
                    if purge_volumes
                    else f"; kept its shared volumes {listing}"
                )
            await self._event(name, "job-deleted", message)
            await self._wait_until_mirrored(outcome)
            return ([], names) if purge_volumes else (names, [])

        return await retry_on_conflict(
            attempt,
            give_up=lambda attempts: StoreUnavailable(
                f"gave up deleting {name} after {attempts} conflicting commits"
            ),
        )

    async def delete_volume(
        self, job_name: str, volume_name: str, *, forget: bool = False
    ) -> SharedVolume:
        """Ask for the removal of a shared volume that no job uses; a node in its domain removes it.

        With `forget`, its record goes at once and its space is free again, and
        its data stays on the domain's storage: for a volume no live node can
        reach any more (like `nomad volume deregister -force`).

        Returns the volume as it was. Raises `VolumeNotFound`, or `JobRejected`
        (409) while the job still mounts it.
        """
        full_name = f"{job_name}/{volume_name}"

        async def attempt(number: int) -> SharedVolume | Lost:
            found = await self._store.read_volume(job_name, volume_name)
            if found is None:
                raise VolumeNotFound(full_name)
            volume, revision = found
            if not volume.deleting:
                job, job_revision = await self._store.read_job(job_name)
                if job is not None and volume_name in job.spec.shared_volumes:
                    raise JobRejected(
                        "volume-in-use",
                        "Shared volume is in use",
                        f"job {job_name} mounts {full_name}; delete the job first"
                        f" (`ozy delete {job_name} --purge-volumes` removes both)",
                        status=409,
                    )
                if not await self._store.mark_volume_deleting(volume, revision, job_revision):
                    return LOST
                await self._event(
                    job_name, "volume-deleting", f"removing shared volume {full_name}"
                )
            if forget:
                deleting = volume.model_copy(update={"deleting": True})
                # False: a node of its domain removed it meanwhile, which is as good.
                if await self._store.forget_volume(deleting):
                    await self._event(
                        job_name,
                        "volume-forgotten",
                        f"forgot shared volume {full_name}; its data stays on the storage of"
                        f" {describe_storage_domain(volume.domain)}",
                    )
            return volume

        return await retry_on_conflict(
            attempt,
            give_up=lambda attempts: StoreUnavailable(
                f"gave up deleting {full_name} after {attempts} races"
            ),
        )

    async def _plan_and_commit(
        self,
        name: str,
        plan: Planner,
        *,
        dry_run: bool,
        must_exist: bool,
        check_index: int | None = None,
        job_type: str = "service",
    ) -> ApplyResult:
        async def attempt(number: int) -> ApplyResult | Lost:
            inputs = await self._inputs(name, fresh=number > 0, job_type=job_type)
            if check_index is not None and inputs.job_revision != check_index and number == 0:
                # The client may have read the index from a node ahead of these mirrors.
                inputs = await self._inputs(name, fresh=True, job_type=job_type)
            if check_index is not None and inputs.job_revision != check_index:
                # The commit below is guarded by this same revision, so a change that lands
                # after this check loses it the race, and the next attempt ends here.
                raise _job_modified(name, check_index, inputs.job_revision)
            if must_exist and inputs.job is None:
                raise JobNotFound(name)
            # Planning is pure and may take a while for a big job on a big
            # cluster: on a worker thread, it holds no request, check or watch.
            with PLAN_DURATION.labels("service").time():
                planned = await asyncio.to_thread(plan, inputs)
            if planned is None:
                assert inputs.job is not None
                return ApplyResult(
                    job=inputs.job,
                    schedule=inputs.schedule or Schedule(job=name),
                    placed={},
                    stopped=[],
                    created=False,
                    changed=False,
                    dry_run=dry_run,
                    previous=inputs.job,
                    previous_schedule=inputs.schedule,
                    modify_index=inputs.job_revision,
                )
            record, placement = planned
            result = placement.result
            applied = ApplyResult(
                job=record,
                schedule=result.schedule,
                placed=result.placed,
                stopped=result.stopped,
                created=inputs.job is None,
                changed=True,
                dry_run=dry_run,
                previous=inputs.job,
                previous_schedule=inputs.schedule,
                modify_index=inputs.job_revision,
                victims=placement.victims,
            )
            if dry_run:
                return applied
            outcome = await self._store.commit(
                name,
                inputs,
                job=record,
                schedule=result.schedule,
                allocation_changes=result.allocation_delta,
                nodes_that_must_exist=sorted(set(result.placed.values())),
                volumes=placement.volumes,
                shared_allocation_changes=result.shared_allocation_delta,
                deployment=placement.deployment,
                new_version=placement.new_version,
                preempted=placement.preempted,
            )
            count_commit(outcome.won)
            if not outcome.won:
                return LOST
            await self._event(
                name,
                "job-committed",
                _describe_commit(applied),
                version=record.version,
                nodes=sorted(set(result.placed.values())),
            )
            for victim in placement.victims:
                await self._event(
                    victim.job,
                    "instance-preempted",
                    f"{victim.job}-{victim.index} on {victim.node} preempted by {name} "
                    f"(priority {record.spec.priority})",
                )
            await self._wait_until_mirrored(outcome)
            return applied

        try:
            return await retry_on_conflict(
                attempt,
                give_up=lambda attempts: StoreUnavailable(
                    f"gave up on {name} after {attempts} conflicting commits"
                ),
                on_lost=lambda number: log.debug(
                    "commit of %s lost a race (attempt %d); re-planning", name, number + 1
                ),
            )
        except JobRejected as refused:
            if not dry_run:  # `ozy plan` commits nothing, so refuses no commit either
                count_refusal(refused.kind)
            raise

    async def _inputs(
        self, name: str, *, fresh: bool, job_type: str = "service"
    ) -> PlanningInputs:
        # Others are read only where this job may preempt them.
        preempting = self._preemption if job_type in self._preemption else frozenset()
        return await planning_inputs(
            self._store, self._mirrors, name, fresh=fresh, preempting_types=preempting
        )

    async def _wait_until_mirrored(self, outcome: CommitOutcome) -> None:
        if not outcome.revision:
            return
        try:
            async with asyncio.timeout(_READ_YOUR_WRITES_SECONDS):
                await self._mirrors.jobs.wait_for_revision(outcome.revision)
                await self._mirrors.schedules.wait_for_revision(outcome.revision)
        except TimeoutError:
            log.warning("mirrors did not show revision %d in time", outcome.revision)

    async def _event(self, job: str, kind: str, message: str, **fields: object) -> None:
        """Log a job's news (with `fields`), and record it for `ozy get events`."""
        log.info("%s: %s", job, message, extra={"job": job, **fields})
        await self._store.record_event(
            Event(time=time.time(), kind=kind, message=message, job=job, node=self._node_name)
        )


def _job_modified(name: str, expected: int, current: int) -> JobRejected:
    now = f"it is at modify index {current}" if current else "it does not exist"
    if not expected:
        detail = f"job {name} exists (modify index {current}); --check-index 0 creates only"
    else:
        detail = f"job {name} changed since modify index {expected}: {now}"
    return JobRejected(
        "job-modified",
        "Job modified",
        f"{detail}; run `ozy plan` again to see what applying would do now",
        status=409,
    )


def _type_changed(current: JobSpec, spec: JobSpec) -> JobRejected:
    return JobRejected(
        "type-changed",
        "Job type cannot change",
        f"job {spec.name} is a {current.type} job, and the spec says type {spec.type}: the two"
        f" are placed differently, so a job keeps its type; delete it (`ozy delete {spec.name}`)"
        " and submit it again, or submit it under another name",
        status=409,
    )


def _describe_commit(result: ApplyResult) -> str:
    placed = ", ".join(
        f"{result.job.spec.name}-{i}→{node}" for i, node in sorted(result.placed.items())
    )
    spec = result.job.spec
    count = len(result.schedule.placements) if spec.is_system else spec.num_instances
    kind = " (system)" if spec.is_system else ""
    parts = [f"version {result.job.version}, {count} instance(s){kind}"]
    if placed:
        parts.append(f"placed {placed}")
    if result.stopped:
        parts.append(f"stopping {', '.join(str(i) for i in result.stopped)}")
    if result.victims:
        parts.append(f"preempting {', '.join(f'{v.job}-{v.index}' for v in result.victims)}")
    return "; ".join(parts)
