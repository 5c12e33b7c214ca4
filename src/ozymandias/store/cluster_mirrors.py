"""Live copies of the cluster state every node daemon follows, and reads of them.

`ClusterMirrors` bundles one `Mirror` per record prefix; its read helpers
answer from memory (fast, maybe stale), so they live apart from
`ClusterStore`'s reads and writes of etcd itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ozymandias.cluster import compact_status
from ozymandias.cluster.compact_status import CompactStatus
from ozymandias.cluster.rebalance_record import Rebalance
from ozymandias.cluster.record_sharing import shared
from ozymandias.cluster.records import (
    AclToken,
    Cordon,
    Deployment,
    Drain,
    InstanceStatus,
    JobRecord,
    Node,
    RegistryLogin,
    Resources,
    Schedule,
    SealedSecret,
    SharedVolume,
)
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd
from ozymandias.store.mirror import Mirror
from ozymandias.store.planning_inputs import OtherJob, PlanningInputs


@dataclass
class ClusterMirrors:
    """Live copies of the cluster state every node daemon follows."""

    nodes: Mirror[Node]
    allocations: Mirror[Resources]
    jobs: Mirror[JobRecord]
    schedules: Mirror[Schedule]
    # Compact: the largest prefix by far (see cluster/compact_status.py).
    instances: Mirror[CompactStatus]
    cordons: Mirror[Cordon]
    volumes: Mirror[SharedVolume]
    shared_allocations: Mirror[Resources]
    tokens: Mirror[AclToken]
    secrets: Mirror[SealedSecret]
    registries: Mirror[RegistryLogin]
    deployments: Mirror[Deployment]
    drains: Mirror[Drain]
    rebalances: Mirror[Rebalance]

    @classmethod
    def following(cls, etcd: Etcd) -> ClusterMirrors:
        """One mirror per record prefix, not yet started."""
        return cls(
            nodes=Mirror(etcd, keys.NODES, lambda _, raw: Node.from_json(raw)),
            allocations=Mirror(etcd, keys.ALLOCATIONS, lambda _, raw: Resources.from_json(raw)),
            jobs=Mirror(
                etcd, keys.JOBS, lambda _, raw: shared(JobRecord.from_json(raw))
            ),
            schedules=Mirror(
                etcd, keys.SCHEDULES, lambda _, raw: shared(Schedule.from_json(raw))
            ),
            cordons=Mirror(etcd, keys.CORDONS, lambda _, raw: Cordon.from_json(raw)),
            instances=Mirror(
                etcd,
                keys.INSTANCES,
                lambda _, raw: compact_status.decode(raw),
                group_of=lambda status: status.job,
            ),
            volumes=Mirror(etcd, keys.VOLUMES, lambda _, raw: SharedVolume.from_json(raw)),
            shared_allocations=Mirror(
                etcd, keys.SHARED_ALLOCATIONS, lambda _, raw: Resources.from_json(raw)
            ),
            tokens=Mirror(etcd, keys.ACL_TOKENS, lambda _, raw: AclToken.from_json(raw)),
            secrets=Mirror(etcd, keys.SECRETS, lambda _, raw: SealedSecret.from_json(raw)),
            registries=Mirror(etcd, keys.REGISTRIES, lambda _, raw: RegistryLogin.from_json(raw)),
            deployments=Mirror(etcd, keys.DEPLOYMENTS, lambda _, raw: Deployment.from_json(raw)),
            drains=Mirror(etcd, keys.DRAINS, lambda _, raw: Drain.from_json(raw)),
            rebalances=Mirror(etcd, keys.REBALANCE, lambda _, raw: Rebalance.from_json(raw)),
        )

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
            self.tokens,
            self.secrets,
            self.registries,
            self.deployments,
            self.drains,
            self.rebalances,
        ]

    def shared_volumes(self, job_name: str | None = None) -> list[SharedVolume]:
        """Every shared volume, or one job's, in key order."""
        return [
            volume
            for volume in self.volumes.items.values()
            if job_name is None or volume.job == job_name
        ]

    def secret(self, name: str) -> SealedSecret | None:
        return self.secrets.items.get(keys.secret(name))

    def secret_keys(self) -> dict[str, list[str]]:
        """Each secret's keys, by its name."""
        return {secret.name: secret.keys for secret in self.secrets.items.values()}

    def secret_revision(self, name: str) -> int:
        return self.secrets.mod_revisions.get(keys.secret(name), 0)

    def registry_login(self, registry: str) -> RegistryLogin | None:
        return self.registries.items.get(keys.registry(registry))

    def cordoned(self) -> frozenset[str]:
        return frozenset(cordon.node for cordon in self.cordons.items.values())

    def draining(self) -> frozenset[str]:
        """Nodes an operator asked to empty (until they are uncordoned)."""
        return frozenset(drain.node for drain in self.drains.items.values())

    def revision(self) -> int:
        """The highest store revision any of these mirrors has seen."""
        return max(mirror.revision for mirror in self.all())

    async def wait_synced(self) -> None:
        for mirror in self.all():
            await mirror.wait_synced()

    def node_list(self) -> list[Node]:
        return list(self.nodes.items.values())

    def node(self, name: str) -> Node | None:
        return self.nodes.items.get(keys.node(name))

    def allocation(self, node_name: str) -> Resources | None:
        """What the instances placed on the node ask for (None: nothing placed there yet)."""
        return self.allocations.items.get(keys.allocation(node_name))

    def job(self, name: str) -> JobRecord | None:
        return self.jobs.items.get(keys.job(name))

    def schedule(self, job_name: str) -> Schedule | None:
        return self.schedules.items.get(keys.schedule(job_name))

    def drain_list(self) -> list[Drain]:
        return list(self.drains.items.values())

    def rebalance(self) -> Rebalance | None:
        """The last rebalance (`ozy rebalance`), finished or not."""
        return self.rebalances.items.get(keys.REBALANCE_CURRENT)

    def deployment(self, job_name: str) -> Deployment | None:
        return self.deployments.items.get(keys.deployment(job_name))

    def job_revision(self, job_name: str) -> int:
        """The job's modify index: its record's etcd mod revision (0 when there is none)."""
        return self.jobs.mod_revisions.get(keys.job(job_name), 0)

    def other_jobs(self, job_name: str) -> dict[str, OtherJob]:
        """Every job but `job_name` that has a schedule, with their revisions (for preemption)."""
        others = {}
        for key, record in self.jobs.items.items():
            name = record.spec.name
            schedule = self.schedule(name)
            if name == job_name or schedule is None:
                continue
            schedule_revision = self.schedules.mod_revisions.get(keys.schedule(name), 0)
            deployment = self.deployment(name)
            others[name] = OtherJob(
                record,
                self.jobs.mod_revisions.get(key, 0),
                schedule,
                schedule_revision,
                deploying=deployment is not None and deployment.status.active,
                deployment_revision=self.deployments.mod_revisions.get(keys.deployment(name), 0),
            )
        return others

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
            instance_states={s.index: s.state.value for s in self.compact_statuses(job_name)},
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
            deployment=self.deployment(job_name),
            deployment_revision=self.deployments.mod_revisions.get(keys.deployment(job_name), 0),
        )

    def allocated(self) -> dict[str, Resources]:
        return {
            keys.name_after(keys.ALLOCATIONS, key): value
            for key, value in self.allocations.items.items()
        }

    def instance_status(self, job_name: str, index: int) -> InstanceStatus | None:
        """One instance's status, as its node last reported it (None: not yet, or gone)."""
        status = self.instances.items.get(keys.instance(job_name, index))
        return None if status is None else compact_status.expand(status)

    def instance_revision(self, job_name: str, index: int) -> int:
        """The etcd mod revision of one instance's status (0: none)."""
        return self.instances.mod_revisions.get(keys.instance(job_name, index), 0)

    def node_revision(self, name: str) -> int:
        return self.nodes.mod_revisions.get(keys.node(name), 0)

    def instance_statuses(self, job_name: str | None = None) -> list[InstanceStatus]:
        """Every status, or one job's, as full records (built on demand)."""
        return [compact_status.expand(status) for status in self.compact_statuses(job_name)]

    def compact_statuses(self, job_name: str | None = None) -> list[CompactStatus]:
        """As `instance_statuses`, in the mirror's compact form: for readers of many
        statuses that need only their fields, so none is built as a record."""
        if job_name is None:
            return list(self.instances.items.values())
        # From the by-job index: one job's statuses cost its size, not the cluster's.
        return list(self.instances.group(job_name).values())

    def node_statuses(self, node_name: str) -> list[InstanceStatus]:
        """The statuses one node reported, as full records."""
        return [
            compact_status.expand(status)
            for status in self.instances.items.values()
            if status.node == node_name
        ]
