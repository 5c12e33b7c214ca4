"""Nodes and events in Kubernetes' shape, and their table rows."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import Event, Node, Resources
from ozymandias.kube.events import event_to_kube, reason_of
from ozymandias.kube.nodes import NodeInfo, max_pods, node_to_kube
from ozymandias.kube.tables import table

NODE = Node(
    name="n1",
    address="10.0.0.11",
    api_url="http://10.0.0.11:7070",
    labels={"zone": "a", "node-role.kubernetes.io/edge": ""},
    capacity=Resources(memory=8 * 1024**3, disk=50 * 1024**3, cpu=3500),
    started_at=1_000.0,
    pod_subnet="10.88.1.0/24",
)
INFO = NodeInfo(
    ozy_version="0.19.0",
    runtime_version="4.3.1",
    os_image="Debian GNU/Linux 12 (bookworm)",
    kernel_version="6.1.0-18-amd64",
    architecture="amd64",
)


def test_a_node_offers_its_capacity_and_is_ready() -> None:
    shown = node_to_kube(NODE, cordoned=False, ready=True, resource_version=3, info=INFO)
    status = shown["status"]
    assert status["capacity"] == {
        "cpu": "3500m",
        "memory": "8388608Ki",
        "ephemeral-storage": "52428800Ki",
        "pods": "253",
    }
    assert status["allocatable"] == status["capacity"]
    assert shown["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert shown["metadata"]["labels"]["zone"] == "a"
    assert status["nodeInfo"]["kubeletVersion"] == "v0.19.0"
    assert status["nodeInfo"]["containerRuntimeVersion"] == "podman://4.3.1"
    assert {"type": "InternalIP", "address": "10.0.0.11"} in status["addresses"]
    assert "unschedulable" not in shown["spec"] and "taints" not in shown["spec"]
    cells = table("Node", [shown], now=1_000.0 + 5 * 86400)["rows"][0]["cells"]
    assert cells == [
        "n1",
        "Ready",
        "edge",
        "5d",
        "v0.19.0",
        "10.0.0.11",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-amd64",
        "podman://4.3.1",
    ]


def test_a_cordoned_lost_node() -> None:
    shown = node_to_kube(NODE, cordoned=True, ready=False, resource_version=3)
    assert shown["spec"]["unschedulable"] is True
    assert shown["spec"]["taints"][0]["key"] == "node.kubernetes.io/unschedulable"
    assert shown["spec"]["taints"][0]["effect"] == "NoSchedule"
    assert shown["status"]["conditions"][0]["status"] == "Unknown"
    cells = table("Node", [shown], now=2_000.0)["rows"][0]["cells"]
    assert cells[1:5] == ["NotReady,SchedulingDisabled", "edge", "16m", ""]
    assert cells[7:] == ["<unknown>", "<unknown>", "podman"]


@pytest.mark.parametrize(
    ("subnet", "pods"), [("10.88.1.0/24", 253), ("10.88.0.0/16", 65533), ("", 110), ("bad", 110)]
)
def test_pods_a_node_can_address(subnet: str, pods: int) -> None:
    assert max_pods(subnet) == pods


@pytest.mark.parametrize(
    ("event", "kind", "name", "reason", "type"),
    [
        (
            Event(
                time=1.0,
                kind="instance-started",
                message="m",
                job="web",
                instance="web-0",
                node="n1",
            ),
            "Pod",
            "web-0",
            "InstanceStarted",
            "Normal",
        ),
        (
            Event(time=1.0, kind="deployment-failed", message="m", job="web"),
            "Deployment",
            "web",
            "DeploymentFailed",
            "Warning",
        ),
        (
            Event(time=1.0, kind="node-lost", message="m", node="n2"),
            "Node",
            "n2",
            "NodeLost",
            "Warning",
        ),
        (
            Event(time=1.0, kind="container-unhealthy", message="m", job="w", instance="w-1"),
            "Pod",
            "w-1",
            "ContainerUnhealthy",
            "Warning",
        ),
        (
            Event(time=1.0, kind="job-committed", message="m", job="w"),
            "Deployment",
            "w",
            "JobCommitted",
            "Normal",
        ),
    ],
)
def test_events_name_their_object(
    event: Event, kind: str, name: str, reason: str, type: str
) -> None:
    shown = event_to_kube(event, resource_version=9)
    assert (shown["involvedObject"]["kind"], shown["involvedObject"]["name"]) == (kind, name)
    assert (shown["reason"], shown["type"], shown["count"]) == (reason, type, 1)
    assert shown["firstTimestamp"] == shown["lastTimestamp"] == "1970-01-01T00:00:01Z"


def test_an_events_row() -> None:
    event = Event(
        time=1_000.0,
        kind="instance-started",
        message=" started web-0 ",
        job="web",
        instance="web-0",
        node="n1",
    )
    shown = event_to_kube(event, resource_version=9, name="web-0.1")
    cells = table("Event", [shown], now=1_065.0)["rows"][0]["cells"]
    assert cells == [
        "65s",
        "Normal",
        "InstanceStarted",
        "pod/web-0",
        "",
        "ozymandias, n1",
        "started web-0",
        "65s",
        1,
        "web-0.1",
    ]
    assert reason_of("a-b_c") == "ABC"
