"""Instances as Pods, and the STATUS, READY and RESTARTS kubectl prints for each state."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cluster.records import (
    ContainerStatus,
    Health,
    InstanceState,
    InstanceStatus,
    Node,
    Resources,
)
from ozymandias.kube.deployments import job_spec_from_deployment
from ozymandias.kube.pods import pod_from_instance
from ozymandias.kube.selectors import (
    field_matches,
    matches,
    parse_field_selector,
    parse_label_selector,
)
from ozymandias.kube.tables import table
from ozymandias.spec.loader import job_from_data
from tests.unit.kube.manifests import nginx

SPEC = job_from_data(job_spec_from_deployment(nginx()))
NODE = Node(
    name="n1",
    address="10.0.0.11",
    api_url="http://10.0.0.11:7070",
    capacity=Resources(memory=8 * 1024**3, disk=50 * 1024**3, cpu=4000),
    started_at=1_000.0,
)
NOW = 2_000.0


def status(state: InstanceState, **fields: Any) -> InstanceStatus:
    values: dict[str, Any] = {
        "job": SPEC.name,
        "index": 0,
        "node": "n1",
        "state": state,
        "updated_at": 1_900.0,
        "spec_version": 1,
    }
    return InstanceStatus(**(values | fields))


def running(**fields: Any) -> ContainerStatus:
    return ContainerStatus(**({"name": "nginx", "state": "running"} | fields))


def exited(code: int, **fields: Any) -> ContainerStatus:
    return ContainerStatus(**({"name": "nginx", "state": "exited", "exit_code": code} | fields))


def pod(instance: InstanceStatus) -> dict[str, Any]:
    return pod_from_instance(instance, SPEC, NODE, resource_version=11, created=1_800.0)


def row(instance: InstanceStatus) -> list[Any]:
    cells: list[Any] = table("Pod", [pod(instance)], now=NOW)["rows"][0]["cells"]
    return cells


HEALTHY = {"health": Health.HEALTHY, "pod_ip": "10.88.1.5"}


@pytest.mark.parametrize(
    ("instance", "phase", "shown"),
    [
        (status(InstanceState.PENDING, node=""), "Pending", ["0/1", "Pending", "0"]),
        (status(InstanceState.WAITING), "Pending", ["0/1", "Pending", "0"]),
        (status(InstanceState.PULLING), "Pending", ["0/1", "ContainerCreating", "0"]),
        (
            status(InstanceState.PULLING, reason="image pull: registry unreachable for nginx"),
            "Pending",
            ["0/1", "ImagePullBackOff", "0"],
        ),
        (
            status(
                InstanceState.STARTING, containers=[ContainerStatus(name="nginx", state="created")]
            ),
            "Pending",
            ["0/1", "ContainerCreating", "0"],
        ),
        (
            status(InstanceState.RUNNING, containers=[running()], **HEALTHY),
            "Running",
            ["1/1", "Running", "0"],
        ),
        (status(InstanceState.RUNNING, containers=[running()]), "Running", ["0/1", "Running", "0"]),
        (
            status(InstanceState.RUNNING, containers=[running(restarts=2)], **HEALTHY),
            "Running",
            ["1/1", "Running", "2"],
        ),
        (
            status(InstanceState.RUNNING, containers=[exited(1, restarts=4, restart_at=2_010.0)]),
            "Running",
            ["0/1", "CrashLoopBackOff", "4 (100s ago)"],
        ),
        (
            status(InstanceState.COMPLETED, containers=[exited(0)]),
            "Succeeded",
            ["0/1", "Completed", "0"],
        ),
        (
            status(InstanceState.FAILED, reason="image pull: not found for nginx:9"),
            "Pending",
            ["0/1", "ErrImagePull", "0"],
        ),
        (status(InstanceState.FAILED, containers=[exited(2)]), "Failed", ["0/1", "Error", "0"]),
        (status(InstanceState.FAILED, reason="no such program"), "Failed", ["0/1", "Error", "0"]),
        (
            status(InstanceState.STOPPING, containers=[running()], **HEALTHY),
            "Running",
            ["0/1", "Terminating", "0"],
        ),
    ],
)
def test_states_read_as_kubectl_would_print_them(
    instance: InstanceStatus, phase: str, shown: list[str]
) -> None:
    assert pod(instance)["status"]["phase"] == phase
    assert row(instance)[1:4] == shown


def test_a_pod_names_its_instance_node_and_addresses() -> None:
    instance = status(InstanceState.RUNNING, index=2, containers=[running()], **HEALTHY)
    shown = pod(instance)
    assert shown["metadata"]["name"] == f"{SPEC.name}-2"
    assert shown["metadata"]["namespace"] == "default"
    assert shown["metadata"]["labels"] == {"app": "nginx"}
    assert shown["spec"]["nodeName"] == "n1"
    assert shown["spec"]["containers"][0]["image"] == "nginx:1.14.2"
    assert shown["status"]["hostIP"] == "10.0.0.11" and shown["status"]["podIP"] == "10.88.1.5"
    ready = {c["type"]: c["status"] for c in shown["status"]["conditions"]}
    assert ready["Ready"] == "True" and ready["ContainersReady"] == "True"
    [container] = shown["status"]["containerStatuses"]
    assert container["ready"] is True and "running" in container["state"]
    assert row(instance) == [
        f"{SPEC.name}-2",
        "1/1",
        "Running",
        "0",
        "3m20s",
        "10.88.1.5",
        "n1",
        "<none>",
        "<none>",
    ]


def test_a_system_jobs_pod_is_named_for_its_node() -> None:
    system = SPEC.model_copy(update={"type": "system", "num_instances": 0})
    shown = pod_from_instance(status(InstanceState.RUNNING), system, None, resource_version=1)
    assert shown["metadata"]["name"] == f"{SPEC.name}-n1"
    assert "hostIP" not in shown["status"]


def test_pods_are_selected_by_their_labels_and_fields() -> None:
    shown = pod(status(InstanceState.RUNNING, containers=[running()], **HEALTHY))
    assert matches(parse_label_selector("app=nginx"), shown["metadata"]["labels"])
    fields = f"metadata.name={SPEC.name}-0,spec.nodeName=n1,status.phase=Running"
    assert field_matches(parse_field_selector(fields, "Pod"), shown)
