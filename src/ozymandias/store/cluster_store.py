"""The cluster's state in etcd, as typed records and atomic commits.

`ClusterStore` is the one entry point above the store for reading and writing
cluster records: nodes, pod subnets, jobs and schedules, shared volumes,
instance statuses and events. Everything above it deals in `Node`,
`JobRecord`, `Schedule` and friends, never in keys. Larger concerns live
beside it: the live copies in `cluster_mirrors.py`, what a plan is read from
in `planning_inputs.py`, and how a scheduling decision becomes one etcd
transaction in `job_commit.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from ozymandias.cluster.records import (
    Cordon,
    Deployment,
    Drain,
    Event,
    InstanceStatus,
    JobRecord,
    JobVersion,
    Node,
    NodeVolumes,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.etcd import (
    CommitOutcomeUnknown,
    Delete,
    Etcd,
    Put,
    StoreUnavailable,
    Unchanged,
)
from ozymandias.store.job_commit import CommitOutcome, commit_job, job_transaction
from ozymandias.store.planning_inputs import PlanningInputs, other_jobs_read
from ozymandias.store.retry import LOST, Lost, retry_on_conflict

log = logging.getLogger(__name__)

# Events are kept for between half an hour and an hour: each process writes
# them under a lease it replaces every half hour.
EVENTS_LEASE_SECONDS = 3600
_EVENTS_LEASE_RENEW_SECONDS = EVENTS_LEASE_SECONDS / 2

# Forgetting a removed volume races only with other commits to its domain's total.
MAX_VOLUME_COMMIT_ATTEMPTS = 16


async def _volume_commit_backoff(attempt: int) -> None:
    """Wait before forgetting a volume again after a lost race: a little longer each time."""
    await asyncio.sleep(0.05 * (attempt + 1))


class ClusterStore:
    """Reads and writes cluster records in etcd."""

    def __init__(self, etcd: Etcd) -> None:
        self.etcd = etcd
        self._events_lease: tuple[int, float] | None = None
        self._event_sequence = 0

    def mirrors(self) -> ClusterMirrors:
        return ClusterMirrors.following(self.etcd)

    # Nodes

    async def register_node(self, node: Node, lease_id: int) -> bool:
        """Publish `node` under `lease_id`, unless a live daemon holds the name.

        Returns False when another lease already holds the node's key.
        """
        key = keys.node(node.name)
        current = await self.etcd.get(key)
        if current is not None and current.lease not in (0, lease_id):
            return False
        revision = current.mod_revision if current is not None else 0
        outcome = await self.etcd.transaction(
            [Unchanged(key, revision)], [Put(key, node.to_json(), lease=lease_id)]
        )
        return outcome.applied

    async def update_node_load(self, name: str, load: float, lease_id: int) -> bool:
        """Rewrite the node's record with its new `load`, if the record is still under
        `lease_id` and unchanged since read; False otherwise (the next report tries again)."""
        key = keys.node(name)
        current = await self.etcd.get(key)
        if current is None or current.lease != lease_id:
            return False
        node = Node.from_json(current.value).model_copy(update={"load": load})
        outcome = await self.etcd.transaction(
            [Unchanged(key, current.mod_revision)], [Put(key, node.to_json(), lease=lease_id)]
        )
        return outcome.applied

    async def node_lease(self, name: str) -> int | None:
        """The lease the node's registration hangs on, if it is registered."""
        current = await self.etcd.get(keys.node(name))
        return current.lease if current is not None else None

    async def list_nodes(self) -> list[Node]:
        _, pairs = await self.etcd.scan(keys.NODES)
        return [Node.from_json(pair.value) for pair in pairs]

    # Pod subnets

    async def subnet_holders(self) -> dict[str, tuple[str, int]]:
        """Every leased pod subnet -> (node name, the lease it hangs on)."""
        _, pairs = await self.etcd.scan(keys.SUBNETS)
        return {keys.subnet_cidr(pair.key): (pair.value.decode(), pair.lease) for pair in pairs}

    async def claim_subnet(self, cidr: str, node_name: str, lease_id: int) -> bool:
        """Take `cidr` for `node_name` under `lease_id` unless another holds it; True if ours."""
        key = keys.subnet(cidr)
        try:
            outcome = await self.etcd.transaction(
                [Unchanged(key, 0)], [Put(key, node_name.encode(), lease=lease_id)]
            )
            if outcome.applied:
                return True
        except CommitOutcomeUnknown as error:
            log.warning("claim of subnet %s: %s; reading it back", cidr, error)
        # Lost, unknown, or already ours from before (a daemon that kept its lease).
        current = await self.etcd.get(key)
        return current is not None and (current.value.decode(), current.lease) == (
            node_name,
            lease_id,
        )

    # Jobs and schedules

    async def read_planning_inputs(
        self, job_name: str, *, with_others: bool = False
    ) -> PlanningInputs:
        """The planning inputs read from etcd at one revision (after a lost race); with
        `with_others`, every other job and its schedule too (for preemption)."""
        others_ranges = [keys.JOBS, keys.SCHEDULES, keys.DEPLOYMENTS] if with_others else []
        _, ranges = await self.etcd.read_ranges(
            [
                keys.NODES,
                keys.ALLOCATIONS,
                keys.CORDONS,
                keys.job(job_name),
                keys.schedule(job_name),
                keys.job_instances(job_name),
                keys.job_volumes(job_name),
                keys.SHARED_ALLOCATIONS,
                keys.deployment(job_name),
                *others_ranges,
            ]
        )
        own, others = ranges[:9], ranges[9:]
        nodes, allocations, cordons, jobs, schedules, instances, volumes, shared, rollout = own
        statuses = [InstanceStatus.from_json(pair.value) for pair in instances]
        return PlanningInputs(
            nodes=[Node.from_json(pair.value) for pair in nodes],
            allocations={
                keys.name_after(keys.ALLOCATIONS, pair.key): (
                    Resources.from_json(pair.value),
                    pair.mod_revision,
                )
                for pair in allocations
            },
            job=JobRecord.from_json(jobs[0].value) if jobs else None,
            job_revision=jobs[0].mod_revision if jobs else 0,
            schedule=Schedule.from_json(schedules[0].value) if schedules else None,
            schedule_revision=schedules[0].mod_revision if schedules else 0,
            instance_states={status.index: status.state.value for status in statuses},
            cordoned=frozenset(Cordon.from_json(pair.value).node for pair in cordons),
            volumes={
                keys.name_after(keys.job_volumes(job_name), pair.key): (
                    SharedVolume.from_json(pair.value),
                    pair.mod_revision,
                )
                for pair in volumes
            },
            shared_allocations={
                keys.name_after(keys.SHARED_ALLOCATIONS, pair.key): (
                    Resources.from_json(pair.value).disk,
                    pair.mod_revision,
                )
                for pair in shared
            },
            deployment=Deployment.from_json(rollout[0].value) if rollout else None,
            deployment_revision=rollout[0].mod_revision if rollout else 0,
            others=other_jobs_read(job_name, *others) if with_others else {},
        )

    async def set_cordon(self, node_name: str, cordoned: bool) -> None:
        """Mark a node as taking no new instances, or clear that mark (and any drain)."""
        if cordoned:
            await self.etcd.put(
                keys.cordon(node_name), Cordon(node=node_name, since=time.time()).to_json()
            )
        else:
            await self.etcd.transaction(
                [], [Delete(keys.cordon(node_name)), Delete(keys.drain(node_name))]
            )

    async def start_drain(self, drain: Drain) -> None:
        """Cordon the node and ask for it to be emptied, in one transaction."""
        cordon = Cordon(node=drain.node, since=drain.started_at)
        await self.etcd.transaction(
            [],
            [
                Put(keys.cordon(drain.node), cordon.to_json()),
                Put(keys.drain(drain.node), drain.to_json()),
            ],
        )

    async def commit(
        self,
        job_name: str,
        basis: PlanningInputs,
        *,
        job: JobRecord | None,
        schedule: Schedule | None,
        allocation_changes: Mapping[str, Resources],
        nodes_that_must_exist: list[str],
        volumes: Sequence[SharedVolume] = (),
        shared_allocation_changes: Mapping[str, int] | None = None,
        deployment: Deployment | None = None,
        new_version: JobVersion | None = None,
        preempted: Mapping[str, Schedule] | None = None,
    ) -> CommitOutcome:
        """Write a job, its schedule, shared volumes and allocation totals in one transaction.

        The transaction applies only if nothing it was planned from has
        changed since: the job, the schedule, every written volume and every
        touched allocation (node or shared) still have the revisions in
        `basis`, and every node that receives an instance is still
        registered. `job=None` deletes the job and its schedule; its volumes
        stay unless written here. The request is sent once; if its outcome is
        unknown, the schedule is read back to find out.

        `deployment`, when given, is written too (the job's deployment is
        guarded by every commit); `new_version` is kept in the job's history,
        whose oldest entries beyond the last `HISTORY_LENGTH` go. Deleting the
        job deletes both.

        `preempted` holds the new schedules of the jobs whose instances this
        one preempts (their freed room is in `allocation_changes`), each
        guarded by the revisions of that job and schedule in `basis.others`.
        """
        transaction = job_transaction(
            job_name,
            basis,
            job=job,
            schedule=schedule,
            allocation_changes=allocation_changes,
            nodes_that_must_exist=nodes_that_must_exist,
            volumes=volumes,
            shared_allocation_changes=shared_allocation_changes,
            deployment=deployment,
            new_version=new_version,
            preempted=preempted,
        )
        return await commit_job(self.etcd, job_name, transaction)

    async def update_deployment(self, deployment: Deployment, revision: int) -> bool:
        """Write a job's deployment if it is still at `revision` (an operator's promote or
        fail); False when it changed meanwhile."""
        key = keys.deployment(deployment.job)
        outcome = await self.etcd.transaction(
            [Unchanged(key, revision)], [Put(key, deployment.to_json())]
        )
        return outcome.applied

    async def read_deployment(self, job_name: str) -> tuple[Deployment | None, int]:
        """A job's deployment and its revision (0 when there is none)."""
        current = await self.etcd.get(keys.deployment(job_name))
        if current is None:
            return None, 0
        return Deployment.from_json(current.value), current.mod_revision

    async def job_versions(self, job_name: str) -> list[JobVersion]:
        """The kept versions of a job, oldest first."""
        _, pairs = await self.etcd.scan(keys.job_versions(job_name))
        return [JobVersion.from_json(pair.value) for pair in pairs]

    async def job_version(self, job_name: str, version: int) -> JobVersion | None:
        found = await self.etcd.get(keys.job_version(job_name, version))
        return JobVersion.from_json(found.value) if found is not None else None

    # Shared volumes

    async def read_job(self, job_name: str) -> tuple[JobRecord | None, int]:
        """A job and its revision (0 when there is no such job)."""
        current = await self.etcd.get(keys.job(job_name))
        if current is None:
            return None, 0
        return JobRecord.from_json(current.value), current.mod_revision

    async def read_volume(self, job_name: str, volume_name: str) -> tuple[SharedVolume, int] | None:
        """A shared volume and its revision, if it exists."""
        current = await self.etcd.get(keys.volume(job_name, volume_name))
        if current is None:
            return None
        return SharedVolume.from_json(current.value), current.mod_revision

    async def mark_volume_deleting(
        self, volume: SharedVolume, revision: int, job_revision: int
    ) -> bool:
        """Ask for a kept volume's removal, if neither it nor its job changed since read."""
        outcome = await self.etcd.transaction(
            [
                Unchanged(keys.volume(volume.job, volume.name), revision),
                Unchanged(keys.job(volume.job), job_revision),
            ],
            [
                Put(
                    keys.volume(volume.job, volume.name),
                    volume.model_copy(update={"deleting": True}).to_json(),
                )
            ],
        )
        return outcome.applied

    async def forget_volume(self, volume: SharedVolume) -> bool:
        """Drop a removed volume's record and give its space back to its domain.

        Returns False if that record is gone already (a peer finished first),
        even if a volume of the same name was made anew since.
        """

        async def attempt(number: int) -> bool | Lost:
            _, (records, totals) = await self.etcd.read_ranges(
                [keys.volume(volume.job, volume.name), keys.shared_allocation(volume.domain)]
            )
            if not records:
                return False
            current = SharedVolume.from_json(records[0].value)
            if not current.deleting or current.created_at != volume.created_at:
                return False  # forgotten by a peer, and made anew since
            taken = Resources.from_json(totals[0].value).disk if totals else 0
            outcome = await self.etcd.transaction(
                [
                    Unchanged(keys.volume(volume.job, volume.name), records[0].mod_revision),
                    Unchanged(
                        keys.shared_allocation(volume.domain),
                        totals[0].mod_revision if totals else 0,
                    ),
                ],
                [
                    Delete(keys.volume(volume.job, volume.name)),
                    Put(
                        keys.shared_allocation(volume.domain),
                        Resources(disk=max(0, taken - volume.size)).to_json(),
                    ),
                ],
            )
            return True if outcome.applied else LOST

        return await retry_on_conflict(
            attempt,
            give_up=lambda _: StoreUnavailable(
                f"gave up forgetting volume {volume.full_name}: too many races"
            ),
            attempts=MAX_VOLUME_COMMIT_ATTEMPTS,
            backoff=_volume_commit_backoff,
        )

    async def put_volume_usage(self, usage: NodeVolumes, lease_id: int) -> None:
        await self.etcd.put(keys.volume_usage(usage.node), usage.to_json(), lease=lease_id)

    async def volume_usage(self) -> list[NodeVolumes]:
        _, pairs = await self.etcd.scan(keys.VOLUME_USAGE)
        return [NodeVolumes.from_json(pair.value) for pair in pairs]

    # Instance statuses

    async def put_instance_status(self, status: InstanceStatus, lease_id: int) -> None:
        await self.etcd.put(
            keys.instance(status.job, status.index), status.to_json(), lease=lease_id
        )

    async def delete_instance_status(self, job_name: str, index: int, node_name: str) -> None:
        """Delete an instance's status if `node_name` wrote it, never a newer node's."""
        key = keys.instance(job_name, index)
        current = await self.etcd.get(key)
        if current is None or InstanceStatus.from_json(current.value).node != node_name:
            return
        await self.etcd.transaction([Unchanged(key, current.mod_revision)], [Delete(key)])

    async def put_leaving_instance_status(self, status: InstanceStatus, lease_id: int) -> None:
        """Report an instance this node is letting go, unless another node reports it now.

        The instance may already have been placed and started elsewhere: its
        new node's report must not be overwritten by the old one's.
        """
        key = keys.instance(status.job, status.index)
        current = await self.etcd.get(key)
        if current is not None and InstanceStatus.from_json(current.value).node != status.node:
            return
        revision = current.mod_revision if current is not None else 0
        await self.etcd.transaction(
            [Unchanged(key, revision)], [Put(key, status.to_json(), lease=lease_id)]
        )

    # Events

    async def record_event(self, event: Event) -> None:
        """Append an event; a failure to record one is logged, never raised."""
        try:
            lease_id = await self._current_events_lease()
            self._event_sequence += 1
            key = keys.event(time.time_ns(), event.node or "-", self._event_sequence)
            await self.etcd.put(key, event.to_json(), lease=lease_id)
        except StoreUnavailable as error:
            log.warning("could not record event %s: %s", event.kind, error)

    async def list_events(
        self, job_name: str | None = None, limit: int = 100, since: float | None = None
    ) -> list[Event]:
        """The newest `limit` events (of one job, at or after `since`), oldest first."""
        _, pairs = await self.etcd.scan(keys.EVENTS)
        events = [Event.from_json(pair.value) for pair in pairs]
        if job_name is not None:
            events = [event for event in events if event.job == job_name]
        if since is not None:
            events = [event for event in events if event.time >= since]
        return events[-limit:]

    async def _current_events_lease(self) -> int:
        now = time.monotonic()
        if self._events_lease is None or now - self._events_lease[1] > _EVENTS_LEASE_RENEW_SECONDS:
            self._events_lease = (await self.etcd.grant_lease(EVENTS_LEASE_SECONDS), now)
        return self._events_lease[0]

    # The connection

    async def ping(self) -> None:
        """Return once etcd answers a read; raise StoreUnavailable if it does not."""
        await self.etcd.get(keys.ROOT)

    async def close(self) -> None:
        """Close the etcd client (shared with every store built on it)."""
        await self.etcd.close()
