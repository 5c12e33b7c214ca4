"""The volumes of this node's pods: made ready before a pod starts, removed when it leaves for good.

`PodVolumes` is what the agent calls around a pod's life:

- before a pod starts, each local volume of the instance is created (or
  found again, after a container or daemon restart) and each shared volume's
  directory is made on the zone's shared storage; the result is the mounts
  per container;
- when an instance leaves this node for good (scale-down, job delete,
  re-placement elsewhere), its local volumes are removed; a pod replaced
  because its spec changed keeps them. The agent also sweeps volumes no
  instance of this node owns (one whose pod never started, or left by an
  earlier run), at startup and whenever the schedules change.

`VolumeUpkeep` runs beside the agent: it removes shared volumes whose removal
was asked for (purged with their job, or deleted on their own) once no
instance of the job is left, if this node reaches their domain, and it
reports what every volume here uses, so `ozy get volumes` can show it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ozymandias.agent.local_plan import DesiredInstance, InstanceKey
from ozymandias.cluster.records import Event, NodeVolumes, SharedVolume, VolumeUsage
from ozymandias.runtime.models import Mount
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.mirror import any_changed
from ozymandias.volumes.local_disk import LocalDisks, VolumeError
from ozymandias.volumes.shared_dirs import SharedDirs

log = logging.getLogger(__name__)

# How often volume usage is measured when nothing else asks for it.
USAGE_INTERVAL_SECONDS = 10.0


class PodVolumes:
    def __init__(self, local: LocalDisks, shared: SharedDirs | None) -> None:
        self.local = local
        self.shared = shared
        self.changed = asyncio.Event()  # set when a volume appears or goes, for the usage report

    async def mounts_for(self, instance: DesiredInstance) -> dict[str, list[Mount]]:
        """Make the instance's volumes ready; the mounts of each of its containers, by name.

        Local volumes the spec no longer has are removed; one whose size
        changed is made anew (empty).
        """
        spec = instance.spec
        sources: dict[str, str] = {}
        for name, size in sorted(spec.local_volumes.items()):
            path = await self.local.ensure(instance.job, instance.index, name, size)
            sources[name] = str(path)
        for volume in self.local.existing():
            if (volume.job, volume.index) == instance.key and volume.name not in spec.local_volumes:
                await self.local.remove(volume.job, volume.index, volume.name)
        if spec.shared_volumes:
            shared = self.shared
            if shared is None:
                raise VolumeError(
                    "this node has no shared storage (ozy node run --shared-storage) for the"
                    f" shared volumes {', '.join(sorted(spec.shared_volumes))}"
                )
            for name in sorted(spec.shared_volumes):
                path = await asyncio.to_thread(shared.ensure, instance.job, name)
                sources[name] = str(path)
        self.changed.set()
        return {
            container_name: [
                Mount(source=sources[volume.name], destination=volume.path)
                for volume in container.volumes
            ]
            for container_name, container in spec.containers.items()
        }

    async def release(self, job: str, index: int) -> None:
        """The instance left this node for good: its local volumes go."""
        await self.local.remove_instance(job, index)
        self.changed.set()

    def instances_with_volumes(self) -> list[InstanceKey]:
        return self.local.instances()

    async def remove_all(self) -> None:
        """The node leaves the cluster: its instances will run elsewhere, without these."""
        await self.local.remove_all()

    async def keep_all(self) -> None:
        """The node stops, to come back under its name (`ozy down`): unmounted, data kept."""
        await self.local.unmount_all()


class VolumeUpkeep:
    def __init__(
        self,
        node_name: str,
        storage_domain: str | None,
        volumes: PodVolumes,
        store: ClusterStore,
        mirrors: ClusterMirrors,
        lease_id: Callable[[], int],
    ) -> None:
        """`storage_domain` is where this node's shared storage reaches; None without any."""
        self._node_name = node_name
        self._domain = storage_domain
        self._volumes = volumes
        self._store = store
        self._mirrors = mirrors
        self._lease_id = lease_id
        self._reported: list[VolumeUsage] | None = None

    async def run(self) -> None:
        mirror = self._mirrors.volumes
        while True:
            try:
                await self._remove_deleted_shared_volumes()
                await self._report_usage()
            except (StoreUnavailable, VolumeError, OSError) as error:
                log.warning("volume upkeep: %s", error)
            self._volumes.changed.clear()
            await any_changed(
                [(mirror, mirror.revision)],
                also=self._volumes.changed,
                at_most=USAGE_INTERVAL_SECONDS,
            )

    async def _remove_deleted_shared_volumes(self) -> None:
        shared = self._volumes.shared
        if shared is None:
            return
        for volume in self._mirrors.shared_volumes():
            if not self._may_remove(volume):
                continue
            # One volume that can't be removed must not hold up the others.
            try:
                await asyncio.to_thread(shared.remove, volume.job, volume.name)
                if await self._store.forget_volume(volume):
                    log.info("removed shared volume %s", volume.full_name)
                    await self._store.record_event(_removed_event(volume, self._node_name))
            except OSError as error:
                log.warning("could not remove shared volume %s: %s", volume.full_name, error)

    def _may_remove(self, volume: SharedVolume) -> bool:
        """Whether this node may remove a volume whose removal was asked for, now.

        Only from its domain, and only once no pod can mount it any more: the
        job is gone (a purged job's pods may still be stopping elsewhere, so
        none of its instances may be left) or its spec no longer mounts the
        volume and every instance runs that spec.
        """
        if not volume.deleting or volume.domain != self._domain:
            return False
        job = self._mirrors.job(volume.job)
        statuses = self._mirrors.instance_statuses(volume.job)
        if job is None:
            return not statuses
        return volume.name not in job.spec.shared_volumes and all(
            status.spec_version == job.version for status in statuses
        )

    def _measures_shared_usage(self) -> bool:
        """Whether this node measures its domain's shared volumes: only its first node by name,
        so the zone's storage is walked once, not once per node."""
        peers = [
            node.name
            for node in self._mirrors.node_list()
            if node.shared_storage is not None and node.storage_domain == self._domain
        ]
        return min(peers, default=self._node_name) == self._node_name

    async def _report_usage(self) -> None:
        usages = [
            VolumeUsage(
                kind="local",
                job=volume.job,
                name=volume.name,
                index=volume.index,
                size=volume.size,
                used=self._volumes.local.used_bytes(volume),
            )
            for volume in self._volumes.local.existing()
        ]
        shared = self._volumes.shared
        if shared is not None and self._measures_shared_usage():
            for volume in self._mirrors.shared_volumes():
                if volume.domain == self._domain and not volume.deleting:
                    used = await asyncio.to_thread(shared.used_bytes, volume.job, volume.name)
                    usages.append(
                        VolumeUsage(
                            kind="shared",
                            job=volume.job,
                            name=volume.name,
                            size=volume.size,
                            used=used,
                        )
                    )
        if usages == self._reported:
            return
        report = NodeVolumes(node=self._node_name, volumes=usages, measured_at=time.time())
        await self._store.put_volume_usage(report, self._lease_id())
        self._reported = usages


def _removed_event(volume: SharedVolume, node_name: str) -> Event:
    return Event(
        time=time.time(),
        kind="volume-removed",
        message=f"shared volume {volume.full_name} removed",
        job=volume.job,
        node=node_name,
    )
