"""A node's record -> a core/v1 Node. Pure.

Capacity is what the node offers ozy (memory and disk in `Ki`, CPU in cores) and is
all allocatable: ozy reserves nothing beside it. `pods` is what the node's pod
subnet can address. A cordoned node is `unschedulable` with the taint `kubectl
cordon` shows; `Ready` is True while the node holds its lease, else Unknown, as
for a kubelet that stopped posting its status.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ozymandias.cluster.records import Node
from ozymandias.kube.deployment_render import object_uid, timestamp
from ozymandias.kube.quantities import format_millicores

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
HOSTNAME_LABEL = "kubernetes.io/hostname"
# Kubernetes' default, for a node whose pod subnet is not known.
DEFAULT_MAX_PODS = 110


@dataclass(frozen=True)
class NodeInfo:
    """What `nodeInfo` says of a node's software: the node reports it, or the server knows
    it of itself; "" is left as it is."""

    ozy_version: str = ""
    runtime_version: str = ""
    os_image: str = ""
    kernel_version: str = ""
    architecture: str = ""


def node_to_kube(
    node: Node,
    *,
    cordoned: bool,
    ready: bool,
    resource_version: int,
    info: NodeInfo | None = None,
) -> dict[str, Any]:
    info = info or NodeInfo()
    labels = {**node.labels, HOSTNAME_LABEL: node.name, "kubernetes.io/os": "linux"}
    if info.architecture:
        labels["kubernetes.io/arch"] = info.architecture
    started = timestamp(node.started_at)
    spec: dict[str, Any] = {}
    if node.pod_subnet:
        spec["podCIDR"] = node.pod_subnet
        spec["podCIDRs"] = [node.pod_subnet]
    if cordoned:
        spec["unschedulable"] = True
        spec["taints"] = [
            {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule", "timeAdded": started}
        ]
    capacity = {
        "cpu": format_millicores(node.capacity.cpu),
        "memory": f"{node.capacity.memory // 1024}Ki",
        "ephemeral-storage": f"{node.capacity.disk // 1024}Ki",
        "pods": str(max_pods(node.pod_subnet)),
    }
    condition = (
        ("True", "KubeletReady", "ozy is posting ready status")
        if ready
        else ("Unknown", "NodeStatusUnknown", "ozy stopped posting node status.")
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "uid": object_uid("Node", node.name, node.started_at),
            "resourceVersion": str(resource_version),
            "creationTimestamp": started,
            "labels": labels,
        },
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": "Ready",
                    "status": condition[0],
                    "lastHeartbeatTime": started,
                    "lastTransitionTime": started,
                    "reason": condition[1],
                    "message": condition[2],
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": node.address},
                {"type": "Hostname", "address": node.name},
            ],
            "nodeInfo": {
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
                "kernelVersion": info.kernel_version,
                "osImage": info.os_image,
                "containerRuntimeVersion": (
                    f"podman://{info.runtime_version}" if info.runtime_version else "podman"
                ),
                "kubeletVersion": f"v{info.ozy_version}" if info.ozy_version else "",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": info.architecture,
            },
        },
    }


def max_pods(pod_subnet: str) -> int:
    """How many pods the subnet addresses (its network, gateway and broadcast apart)."""
    try:
        network = ipaddress.ip_network(pod_subnet, strict=False)
    except ValueError:
        return DEFAULT_MAX_PODS
    return max(0, min(network.num_addresses - 3, 1_000_000))
