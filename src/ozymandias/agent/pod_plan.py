"""The runtime's plan for one instance, and reading our pods back by their labels: pure.

Labels carry who owns a pod (node, job, index, spec version), so a
restarted daemon recognises its pods and peers' pods stay apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ozymandias.agent.local_plan import DesiredInstance, InstanceKey, LocalPod
from ozymandias.cluster.records import instance_name
from ozymandias.network.firewall import PodPorts
from ozymandias.runtime.models import ContainerPlan, Mount, PodInfo, PodPlan
from ozymandias.spec.models import JobSpec

LABEL_NODE = "ozy.node"
LABEL_JOB = "ozy.job"
LABEL_INDEX = "ozy.index"
LABEL_VERSION = "ozy.spec-version"


def pod_name(node_name: str, job: str, index: int) -> str:
    # The node name keeps pods of different nodes apart when several node
    # daemons share one podman (as in tests, or during a re-placement).
    return f"ozy-{node_name}-{instance_name(job, index)}"


def pod_plan(
    node_name: str,
    desired: DesiredInstance,
    network: str | None,
    dns_servers: list[str] | None = None,
    mounts: Mapping[str, list[Mount]] | None = None,
    secret_environment: Mapping[str, dict[str, str]] | None = None,
    dns_domain: str = "cluster.local",
) -> PodPlan:
    """The runtime's plan for one instance; `mounts` are its volumes and secret files, and
    `secret_environment` its secrets' variables, by container name. The job's `dns_search`
    names are subdomains of `dns_domain`."""
    spec = desired.spec
    labels = {
        LABEL_NODE: node_name,
        LABEL_JOB: desired.job,
        LABEL_INDEX: str(desired.index),
        LABEL_VERSION: str(desired.version),
    }
    instance = instance_name(desired.job, desired.index)
    mounts = mounts or {}
    secret_environment = secret_environment or {}
    waves = [
        [
            _container_plan(
                spec, name, instance, mounts.get(name, []), secret_environment.get(name, {})
            )
            for name in wave
        ]
        for wave in spec.start_order
    ]
    return PodPlan(
        pod_name=pod_name(node_name, desired.job, desired.index),
        labels=labels,
        network=network,
        hostname=instance,
        start_waves=waves,
        dns_servers=dns_servers,
        dns_search=[f"{name}.{dns_domain}" for name in spec.dns_search],
    )


def _container_plan(
    spec: JobSpec, name: str, instance: str, mounts: list[Mount], secrets: dict[str, str]
) -> ContainerPlan:
    container = spec.containers[name]
    environment = {
        "OZY_JOB": spec.name,
        "OZY_INSTANCE": instance,
        **container.environment,
        **secrets,
    }
    return ContainerPlan(
        name=name,
        image=container.image,
        command=list(container.command) if container.command else None,
        environment=environment,
        memory=container.memory,
        mounts=mounts,
        cpus=container.cpus,
        pids=container.pids,
        entrypoint=list(container.entrypoint) if container.entrypoint else None,
        working_dir=container.working_dir,
        stop_signal=container.stop_signal,
        stop_timeout=math.ceil(container.stop_grace_period),
        user=container.user,
        init=container.init,
        tmpfs=tuple(container.tmpfs),
        # capabilities, no_new_privileges and log_size keep the plan's hardened
        # defaults: the spec has no way to loosen them.
    )


def pod_ports(ip: str, spec: JobSpec | None) -> PodPorts:
    """The ports every container of the pod declares (none if the job is gone)."""
    containers = spec.containers.values() if spec else ()
    return PodPorts(ip, tuple(port for container in containers for port in container.ports))


def local_pod_from_labels(info: PodInfo) -> LocalPod | None:
    try:
        return LocalPod(
            pod_name=info.name,
            job=info.labels[LABEL_JOB],
            index=int(info.labels[LABEL_INDEX]),
            version=int(info.labels[LABEL_VERSION]),
        )
    except (KeyError, ValueError):
        return None


def key_from_labels(labels: dict[str, str]) -> InstanceKey | None:
    try:
        return labels[LABEL_JOB], int(labels[LABEL_INDEX])
    except (KeyError, ValueError):
        return None
