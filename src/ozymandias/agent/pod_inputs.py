"""What a pod is given besides its spec: its volumes' mounts, its secrets' variables and files."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.agent.secret_delivery import SecretDelivery, SecretsUnavailable
from ozymandias.agent.volumes import PodVolumes
from ozymandias.runtime.models import Mount
from ozymandias.volumes.local_disk import VolumeError


@dataclass(frozen=True)
class Inputs:
    mounts: dict[str, list[Mount]]
    """By container: volumes, then secret files."""
    environment: dict[str, dict[str, str]]
    """By container: the secrets' variables."""


class PodInputs:
    def __init__(
        self, node_name: str, volumes: PodVolumes | None, secrets: SecretDelivery | None
    ) -> None:
        self._node_name = node_name
        self._volumes = volumes
        self._secrets = secrets

    async def prepare(self, instance: DesiredInstance, pod_name: str) -> Inputs:
        """Ready the instance's volumes and secrets; a job that needs what the node lacks fails."""
        spec = instance.spec
        mounts: dict[str, list[Mount]] = {}
        if self._volumes is not None:
            mounts = await self._volumes.mounts_for(instance)
        elif spec.local_volumes or spec.shared_volumes:
            raise VolumeError(f"node {self._node_name} does not provide volumes")
        if self._secrets is None:
            if spec.secret_refs:
                raise SecretsUnavailable(f"node {self._node_name} does not provide secrets")
            return Inputs(mounts, {})
        secrets = await self._secrets.prepare(instance, pod_name)
        for container, files in secrets.mounts.items():
            mounts[container] = [*mounts.get(container, []), *files]
        return Inputs(mounts, secrets.environment)

    def pod_gone(self, pod_name: str) -> None:
        """The pod is removed (or never started): its secret files go."""
        if self._secrets is not None:
            self._secrets.remove(pod_name)

    def keep_only(self, pod_names: Collection[str]) -> None:
        """Remove the secret files of every pod not named."""
        if self._secrets is not None:
            self._secrets.keep_only(pod_names)

    def remove_all(self) -> None:
        if self._secrets is not None:
            self._secrets.remove_all()
