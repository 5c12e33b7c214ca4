"""A Deployment read into a job and shown again is the Deployment kubectl sent, and a job
shown as a Deployment and read back is the same job: `kubectl diff` sees no change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ozymandias.cluster.records import JobRecord
from ozymandias.kube.deployments import (
    EXTRAS_ANNOTATION,
    KUBE_SPEC_ANNOTATION,
    deployment_from_job,
    job_spec_from_deployment,
)
from ozymandias.spec.loader import job_from_data, load_job
from ozymandias.spec.models import JobSpec
from tests.unit.kube.manifests import nginx

EXAMPLES = Path(__file__).parents[3] / "examples"

names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
label_values = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)


@st.composite
def probes(draw: st.DrawFn, port: int | None) -> dict[str, Any]:
    kinds = ["exec"] + (["httpGet", "tcpSocket"] if port is not None else [])
    kind = draw(st.sampled_from(kinds))
    probe: dict[str, Any]
    if kind == "httpGet":
        probe = {"httpGet": {"path": draw(st.sampled_from(["/", "/healthz"])), "port": port}}
    elif kind == "tcpSocket":
        probe = {"tcpSocket": {"port": port}}
    else:
        probe = {"exec": {"command": ["cat", "/tmp/ok"]}}
    # ozy refuses a timeout longer than the interval, which Kubernetes allows.
    period = draw(st.integers(2, 30))
    probe["periodSeconds"] = period
    for key, value in (
        ("timeoutSeconds", draw(st.integers(1, period))),
        ("failureThreshold", draw(st.integers(1, 5))),
        ("successThreshold", draw(st.integers(1, 3))),
        ("initialDelaySeconds", draw(st.integers(0, 20))),
    ):
        if draw(st.booleans()):
            probe[key] = value
    return probe


@st.composite
def deployments(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(names, label_values, max_size=3))
    selector = {"app": draw(label_values)}
    container_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    volumes = draw(st.lists(names, max_size=2, unique=True))
    ports = iter(range(1000, 2000, 7))
    containers = []
    for name in container_names:
        container: dict[str, Any] = {"name": name, "image": f"registry.local/{name}:1"}
        if draw(st.booleans()):
            container["command"] = ["/bin/" + name]
        if draw(st.booleans()):
            container["args"] = draw(
                st.lists(st.sampled_from(["-v", "--port=80", "a b"]), max_size=3)
            )
        env = draw(
            st.dictionaries(
                st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True),
                st.text("abc =", max_size=5),
                max_size=3,
            )
        )
        if env:
            container["env"] = [
                {"name": k, "value": v} if v else {"name": k} for k, v in env.items()
            ]
        port = next(ports) if draw(st.booleans()) else None
        if port is not None:
            container["ports"] = [
                {
                    "containerPort": port,
                    **draw(st.sampled_from([{}, {"protocol": "TCP"}, {"name": "web"}])),
                }
            ]
        resources: dict[str, Any] = {}
        if draw(st.booleans()):
            resources["memory"] = draw(st.sampled_from(["64Mi", "1Gi", "300M", "128974848"]))
        if draw(st.booleans()):
            resources["cpu"] = draw(st.sampled_from(["100m", "1", "0.5", "2500m"]))
        if resources:
            container["resources"] = {draw(st.sampled_from(["limits", "requests"])): resources}
        if draw(st.booleans()):
            container[draw(st.sampled_from(["readinessProbe", "livenessProbe"]))] = draw(
                probes(port)
            )
        if draw(st.booleans()):
            container["imagePullPolicy"] = draw(
                st.sampled_from(["Always", "IfNotPresent", "Never"])
            )
        mounted: bool = draw(st.booleans())
        if mounted and volumes:
            container["volumeMounts"] = [{"name": volumes[0], "mountPath": "/data"}]
        containers.append(container)
    pod: dict[str, Any] = {"containers": containers}
    if volumes:
        pod["volumes"] = [{"name": v, "emptyDir": {"sizeLimit": "100Mi"}} for v in volumes]
    if draw(st.booleans()):
        pod["nodeSelector"] = draw(st.dictionaries(names, label_values, min_size=1, max_size=2))
    if draw(st.booleans()):
        pod["terminationGracePeriodSeconds"] = draw(st.integers(0, 300))
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": {**selector, "tier": "x"}}, "spec": pod},
    }
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        spec["strategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": draw(st.sampled_from([1, 2, "25%", "50%"])),
                "maxUnavailable": draw(st.sampled_from([0, 1, "25%"])),
            },
        }
    if draw(st.booleans()):
        spec["minReadySeconds"] = draw(st.integers(0, 60))
    metadata: dict[str, Any] = {"name": draw(names)}
    if labels:
        metadata["labels"] = labels
    if draw(st.booleans()):
        metadata["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(spec)
        }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def shown(spec: JobSpec, version: int = 1) -> dict[str, Any]:
    record = JobRecord(spec=spec, version=version, submitted_at=1_700_000_000.0)
    return deployment_from_job(record, None, [], resource_version=42, created=1_699_999_000.0)


@settings(max_examples=150, deadline=None)
@given(deployments())
def test_a_deployment_comes_back_as_it_was_sent(deployment: dict[str, Any]) -> None:
    spec = job_from_data(job_spec_from_deployment(deployment))
    again = shown(spec)
    assert again["spec"] == {**deployment["spec"], "replicas": spec.num_instances}
    assert again["metadata"].get("labels", {}) == deployment["metadata"].get("labels", {})
    assert job_from_data(job_spec_from_deployment(again)) == spec


def without_kept(spec: JobSpec) -> JobSpec:
    annotations = {k: v for k, v in spec.annotations.items() if k != KUBE_SPEC_ANNOTATION}
    return spec.model_copy(update={"annotations": annotations})


NATIVE_JOBS = [
    load_job((EXAMPLES / "simple-webapp.yaml").read_text()),
    job_from_data(
        {
            "name": "edge",
            "labels": {"tier": "web"},
            "annotations": {"note": "kept"},
            "numInstances": 2,
            "priority": 80,
            "ingress": {"hosts": ["edge.example.com"]},
            "update": {
                "canary": 1,
                "auto_revert": False,
                "max_parallel": 3,
                "min_healthy_time": 2.5,
            },
            "nodeSelector": {"disk": "ssd"},
            "affinity": [{"key": "zone", "operator": "NotIn", "values": ["c"]}],
            "dnsSearch": ["shop"],
            "containers": {
                "web": {
                    "image": "nginx",
                    "ports": ["8080:80", "53/udp"],
                    "user": "app:app",
                    "cpus": 0.0125,
                    "restart": "on-failure:3",
                    "stop_grace_period": "30s",
                    "healthcheck": {"type": "http", "port": 80, "interval": 0.5, "timeout": 0.25},
                    "tmpfs": ["/run"],
                    "init": True,
                },
                "side": {
                    "image": "busybox",
                    "command": "sleep infinity",
                    "user": "1000",
                    "volumes": [
                        {"type": "shared", "path": "/shared", "space": "1G"},
                        {"type": "local", "path": "/scratch", "space": "100M"},
                    ],
                },
            },
        }
    ),
]


def test_a_job_of_ozy_comes_back_as_it_was() -> None:
    for spec in NATIVE_JOBS:
        deployment = shown(spec)
        back = job_from_data(job_spec_from_deployment(deployment))
        assert without_kept(back) == spec, spec.name
        # Shown again from what was read, it is the same Deployment.
        assert shown(back)["spec"] == deployment["spec"]


def test_ozy_only_fields_travel_in_the_extras_annotation() -> None:
    extras = json.loads(shown(NATIVE_JOBS[1])["metadata"]["annotations"][EXTRAS_ANNOTATION])
    assert extras["priority"] == 80 and extras["ingress"] == {"hosts": ["edge.example.com"]}
    assert extras["update"] == {"auto_revert": False, "canary": 1}
    web = extras["containers"]["web"]
    assert web["cluster_ports"] == {"80/tcp": 8080}
    assert web["user"] == "app:app" and web["cpus"] == 0.0125


def test_a_changed_job_is_shown_as_it_is_now_not_as_kubectl_sent_it() -> None:
    spec = job_from_data(job_spec_from_deployment(nginx()))
    changed = spec.model_copy(
        update={
            "containers": {
                "nginx": spec.containers["nginx"].model_copy(update={"image": "nginx:1.27"})
            }
        }
    )
    deployment = shown(changed)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.27"
    assert without_kept(job_from_data(job_spec_from_deployment(deployment))) == without_kept(
        changed
    )


def test_scaling_keeps_the_spec_kubectl_sent() -> None:
    spec = job_from_data(job_spec_from_deployment(nginx()))
    scaled = shown(spec.model_copy(update={"num_instances": 7}))
    assert scaled["spec"] == {**nginx()["spec"], "replicas": 7}
