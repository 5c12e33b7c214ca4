"""The cluster's state in etcd, as typed records and atomic commits.

This is the only module that knows how records map to keys and how a
scheduling decision becomes one etcd transaction. Everything above it deals
in `Node`, `JobRecord`, `Schedule` and friends.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ozymandias.cluster.records import (
    Cordon,
    Event,
    InstanceStatus,
    JobRecord,
    Node,
    NodeVolumes,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.store import keys
from ozymandias.store.etcd import (
    CommitOutcomeUnknown,
    Delete,
    Etcd,
    Exists,
    Guard,
    Operation,
    Put,
    StoreUnavailable,
    Unchanged,
)
from ozymandias.store.mirror import Mirror
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


class CommitResult(Enum):
    WON = "won"
    LOST = "lost"  # a peer changed something we read: re-read, re-plan, retry


@dataclass(frozen=True)
class CommitOutcome:
    result: CommitResult
    revision: int  # the commit's own revision when WON; 0 when it is not known

    @property
    def won(self) -> bool:
        return self.result is CommitResult.WON


@dataclass(frozen=True)
class PlanningInputs:
    """Everything one job's placement is computed from, with the revisions read.

    A commit of the resulting plan applies only if these revisions still
    hold. Revision 0 means the key did not exist.
    """

    nodes: list[Node]
    allocations: dict[str, tuple[Resources, int]]
    job: JobRecord | None
    job_revision: int
    schedule: Schedule | None
    schedule_revision: int
    instance_states: dict[int, str] = field(default_factory=dict)
    cordoned: frozenset[str] = frozenset()
    # The job's shared volumes (by volume name) and every domain's shared
    # storage total, each with the revision read.
    volumes: dict[str, tuple[SharedVolume, int]] = field(default_factory=dict)
    shared_allocations: dict[str, tuple[int, int]] = field(default_factory=dict)

    def allocated(self) -> dict[str, Resources]:
        return {name: resources for name, (resources, _) in self.allocations.items()}

    def shared_allocated(self) -> dict[str, int]:
        return {domain: taken for domain, (taken, _) in self.shared_allocations.items()}

    def job_volumes(self) -> dict[str, SharedVolume]:
        return {name: volume for name, (volume, _) in self.volumes.items()}

    def record_commit(self, allocation_changes: Mapping[str, Resources], revision: int) -> None:
        """Fold a won commit's allocation changes into these inputs, in place.

        A commit writes every allocation total it changes in one transaction,
        so each of those keys now has the commit's `revision` as its
        mod_revision. A long-lived scheduler (one process placing job after
        job) can therefore plan its next job from these inputs, with the same
        changes folded into its `ClusterView`, instead of re-reading every
        node's total from etcd. Only the allocations change: the job and
        schedule fields still describe the job that was committed.
        """
        zero = Resources()
        for name, change in allocation_changes.items():
            allocated, _ = self.allocations.get(name, (zero, 0))
            self.allocations[name] = (allocated + change, revision)


@dataclass
class ClusterMirrors:
    """Live copies of the cluster state every node daemon follows."""

    nodes: Mirror[Node]
    allocations: Mirror[Resources]
    jobs: Mirror[JobRecord]
    schedules: Mirror[Schedule]
    instances: Mirror[InstanceStatus]
    cordons: Mirror[Cordon]
    volumes: Mirror[SharedVolume]
    shared_allocations: Mirror[Resources]

    def all(self) -> list[Mirror[Any]]:
        return [
            self.nodes,
            self.allocations,
            self.jobs,
            self.schedules,
            self.instances,
            self.cordons,
            self.volumes,
            self.shared_allocations,
        ]

    def shared_volumes(self, job_name: str | None = None) -> list[SharedVolume]:
        """Every shared volume, or one job's, in key order."""
        return [
            volume
            for volume in self.volumes.items.values()
            if job_name is None or volume.job == job_name
        ]

    def cordoned(self) -> frozenset[str]:
        return frozenset(cordon.node for cordon in self.cordons.items.values())

    async def wait_synced(self) -> None:
        for mirror in self.all():
            await mirror.wait_synced()

    def node_list(self) -> list[Node]:
        return list(self.nodes.items.values())

    def job(self, name: str) -> JobRecord | None:
        return self.jobs.items.get(keys.job(name))

    def schedule(self, job_name: str) -> Schedule | None:
        return self.schedules.items.get(keys.schedule(job_name))

    def planning_inputs(self, job_name: str) -> PlanningInputs:
        """The planning inputs as this node's mirrors have them (fast, maybe stale)."""
        allocations = {
            keys.name_after(keys.ALLOCATIONS, key): (
                value,
                self.allocations.mod_revisions.get(key, 0),
            )
            for key, value in self.allocations.items.items()
        }
        return PlanningInputs(
            nodes=self.node_list(),
            allocations=allocations,
            job=self.job(job_name),
            job_revision=self.jobs.mod_revisions.get(keys.job(job_name), 0),
            schedule=self.schedule(job_name),
            schedule_revision=self.schedules.mod_revisions.get(keys.schedule(job_name), 0),
            instance_states={s.index: s.state.value for s in self.instance_statuses(job_name)},
            cordoned=self.cordoned(),
            volumes={
                volume.name: (volume, self.volumes.mod_revisions.get(key, 0))
                for key, volume in self.volumes.items.items()
                if volume.job == job_name
            },
            shared_allocations={
                keys.name_after(keys.SHARED_ALLOCATIONS, key): (
                    value.disk,
                    self.shared_allocations.mod_revisions.get(key, 0),
                )
                for key, value in self.shared_allocations.items.items()
            },
        )

    def allocated(self) -> dict[str, Resources]:
        return {
            keys.name_after(keys.ALLOCATIONS, key): value
            for key, value in self.allocations.items.items()
        }

    def instance_statuses(self, job_name: str | None = None) -> list[InstanceStatus]:
        statuses = self.instances.items.values()
        if job_name is None:
            return list(statuses)
        return [status for status in statuses if status.job == job_name]


class ClusterStore:
    """Reads and writes cluster records in etcd."""

    def __init__(self, etcd: Etcd) -> None:
        self.etcd = etcd
        self._events_lease: tuple[int, float] | None = None
        self._event_sequence = 0

    def mirrors(self) -> ClusterMirrors:
        return ClusterMirrors(
            nodes=Mirror(self.etcd, keys.NODES, lambda _, raw: Node.from_json(raw)),
            allocations=Mirror(
                self.etcd, keys.ALLOCATIONS, lambda _, raw: Resources.from_json(raw)
            ),
            jobs=Mirror(self.etcd, keys.JOBS, lambda _, raw: JobRecord.from_json(raw)),
            schedules=Mirror(self.etcd, keys.SCHEDULES, lambda _, raw: Schedule.from_json(raw)),
            cordons=Mirror(self.etcd, keys.CORDONS, lambda _, raw: Cordon.from_json(raw)),
            instances=Mirror(
                self.etcd, keys.INSTANCES, lambda _, raw: InstanceStatus.from_json(raw)
            ),
            volumes=Mirror(self.etcd, keys.VOLUMES, lambda _, raw: SharedVolume.from_json(raw)),
            shared_allocations=Mirror(
                self.etcd, keys.SHARED_ALLOCATIONS, lambda _, raw: Resources.from_json(raw)
            ),
        )

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

    async def read_planning_inputs(self, job_name: str) -> PlanningInputs:
        """The planning inputs read from etcd at one revision (after a lost race)."""
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
            ]
        )
        nodes, allocations, cordons, jobs, schedules, instances, volumes, shared = ranges
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
        )

    async def set_cordon(self, node_name: str, cordoned: bool) -> None:
        """Mark a node as taking no new instances, or clear that mark."""
        if cordoned:
            await self.etcd.put(
                keys.cordon(node_name), Cordon(node=node_name, since=time.time()).to_json()
            )
        else:
            await self.etcd.delete(keys.cordon(node_name))

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
    ) -> CommitOutcome:
        """Write a job, its schedule, shared volumes and allocation totals in one transaction.

        The transaction applies only if nothing it was planned from has
        changed since: the job, the schedule, every written volume and every
        touched allocation (node or shared) still have the revisions in
        `basis`, and every node that receives an instance is still
        registered. `job=None` deletes the job and its schedule; its volumes
        stay unless written here. The request is sent once; if its outcome is
        unknown, the schedule is read back to find out.
        """
        guards: list[Guard] = [
            Unchanged(keys.job(job_name), basis.job_revision),
            Unchanged(keys.schedule(job_name), basis.schedule_revision),
        ]
        operations: list[Operation] = []
        for node_name, change in sorted(allocation_changes.items()):
            allocated, revision = basis.allocations.get(node_name, (Resources(), 0))
            guards.append(Unchanged(keys.allocation(node_name), revision))
            operations.append(Put(keys.allocation(node_name), (allocated + change).to_json()))
        for domain, growth in sorted((shared_allocation_changes or {}).items()):
            taken, revision = basis.shared_allocations.get(domain, (0, 0))
            guards.append(Unchanged(keys.shared_allocation(domain), revision))
            operations.append(
                Put(keys.shared_allocation(domain), Resources(disk=taken + growth).to_json())
            )
        # Every volume of the job is guarded, written or not: a removal asked
        # for meanwhile must not go unseen by a commit that mounts the volume.
        written = {volume.name for volume in volumes}
        for name in sorted(written | basis.volumes.keys()):
            _, revision = basis.volumes.get(name, (None, 0))
            guards.append(Unchanged(keys.volume(job_name, name), revision))
        operations.extend(
            Put(keys.volume(job_name, volume.name), volume.to_json()) for volume in volumes
        )
        guards.extend(Exists(keys.node(name)) for name in sorted(set(nodes_that_must_exist)))

        if job is None or schedule is None:
            operations += [Delete(keys.job(job_name)), Delete(keys.schedule(job_name))]
            commit_id = ""
        else:
            commit_id = uuid.uuid4().hex
            schedule = schedule.model_copy(update={"commit_id": commit_id})
            operations += [
                Put(keys.job(job_name), job.to_json()),
                Put(keys.schedule(job_name), schedule.to_json()),
            ]
        try:
            outcome = await self.etcd.transaction(guards, operations)
        except CommitOutcomeUnknown as error:
            log.warning("commit of %s: %s; reading back its schedule", job_name, error)
            landed = await self._commit_landed(job_name, commit_id)
            return CommitOutcome(CommitResult.WON if landed else CommitResult.LOST, 0)
        if outcome.applied:
            return CommitOutcome(CommitResult.WON, outcome.revision)
        return CommitOutcome(CommitResult.LOST, 0)

    async def _commit_landed(self, job_name: str, commit_id: str) -> bool:
        """Whether a commit whose answer was lost did apply, read once etcd answers."""
        for attempt in range(20):
            try:
                current = await self.etcd.get(keys.schedule(job_name))
            except StoreUnavailable:
                await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
                continue
            if not commit_id:
                return current is None
            return current is not None and Schedule.from_json(current.value).commit_id == commit_id
        raise StoreUnavailable(f"etcd did not come back to confirm the commit of {job_name}")

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

    async def list_events(self, job_name: str | None = None, limit: int = 100) -> list[Event]:
        _, pairs = await self.etcd.scan(keys.EVENTS)
        events = [Event.from_json(pair.value) for pair in pairs]
        if job_name is not None:
            events = [event for event in events if event.job == job_name]
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
