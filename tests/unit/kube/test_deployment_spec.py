"""A Deployment read as a job spec: what maps, to what, and every unmapped field refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ozymandias.kube.deployments import KUBE_SPEC_ANNOTATION, Unsupported, job_spec_from_deployment
from ozymandias.spec.loader import job_from_data
from ozymandias.spec.models import JobSpec
from tests.unit.kube.manifests import nginx, with_container, with_pod


def read(deployment: dict[str, Any]) -> JobSpec:
    return job_from_data(job_spec_from_deployment(deployment))


def test_the_nginx_example_is_a_job_of_three() -> None:
    spec = read(nginx())
    assert spec.name == "nginx-deployment"
    assert spec.labels == {"app": "nginx"}
    assert spec.num_instances == 3
    container = spec.containers["nginx"]
    assert container.image == "nginx:1.14.2"
    assert [(p.container_port, p.cluster_port, p.protocol) for p in container.ports] == [
        (80, 80, "tcp")
    ]
    assert container.memory == 256 * 1024**2  # ozy's default: a container always has a limit
    assert spec.update.max_parallel == 1 and spec.update.min_healthy_time == 0
    kept = json.loads(spec.annotations[KUBE_SPEC_ANNOTATION])
    assert kept == {**nginx()["spec"], "replicas": 3}


@pytest.mark.parametrize(
    ("container", "field", "expected"),
    [
        ({"command": ["nginx"], "args": ["-g", "daemon off;"]}, "entrypoint", ["nginx"]),
        ({"command": ["nginx"], "args": ["-g", "daemon off;"]}, "command", ["-g", "daemon off;"]),
        ({"args": ["-v"]}, "entrypoint", None),
        ({"env": [{"name": "A", "value": "1"}, {"name": "B"}]}, "environment", {"A": "1", "B": ""}),
        ({"resources": {"limits": {"memory": "128Mi", "cpu": "500m"}}}, "memory", 128 * 1024**2),
        ({"resources": {"limits": {"memory": "128Mi", "cpu": "500m"}}}, "cpus", 0.5),
        ({"resources": {"requests": {"memory": "1G", "cpu": "2"}}}, "memory", 10**9),
        ({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": 1}}}, "cpus", 1.0),
        ({"imagePullPolicy": "IfNotPresent"}, "pull", "missing"),
        ({"imagePullPolicy": "Always"}, "pull", "always"),
        ({"imagePullPolicy": "Never"}, "pull", "never"),
        ({"workingDir": "/srv"}, "working_dir", "/srv"),
        ({"securityContext": {"runAsUser": 1000, "runAsGroup": 100}}, "user", "1000:100"),
        (
            {"securityContext": {"privileged": False, "allowPrivilegeEscalation": False}},
            "user",
            None,
        ),
        ({"terminationMessagePath": "/dev/termination-log", "tty": False}, "image", "nginx:1.14.2"),
    ],
)
def test_container_fields(container: dict[str, Any], field: str, expected: Any) -> None:
    spec = read(with_container(container))
    assert getattr(spec.containers["nginx"], field) == expected


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5},
            {"type": "http", "port": 80, "path": "/healthz", "interval": 5.0, "timeout": 1.0},
        ),
        (
            {"httpGet": {"port": "web"}, "failureThreshold": 5, "successThreshold": 2},
            {"type": "http", "port": 80, "unhealthy_threshold": 5, "healthy_threshold": 2},
        ),
        (
            {"tcpSocket": {"port": 80}, "initialDelaySeconds": 7, "timeoutSeconds": 3},
            {"type": "tcp", "port": 80, "start_period": 7.0, "timeout": 3.0},
        ),
        (
            {"exec": {"command": ["cat", "/tmp/ok"]}},
            {"type": "exec", "command": ["cat", "/tmp/ok"]},
        ),
    ],
)
@pytest.mark.parametrize("kind", ["readinessProbe", "livenessProbe"])
def test_probes_are_the_healthcheck(
    kind: str, probe: dict[str, Any], expected: dict[str, Any]
) -> None:
    container = {"ports": [{"containerPort": 80, "name": "web"}], kind: probe}
    check = read(with_container(container)).containers["nginx"].healthcheck
    assert check is not None
    assert {key: getattr(check, key) for key in expected} == expected


def test_equal_liveness_and_readiness_probes_are_one_healthcheck() -> None:
    probe = {"httpGet": {"path": "/", "port": 80}}
    spec = read(with_container({"livenessProbe": probe, "readinessProbe": probe}))
    assert spec.containers["nginx"].healthcheck is not None


def test_an_empty_dir_with_a_size_is_a_local_volume() -> None:
    deployment = with_pod({"volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "500Mi"}}]})
    deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "cache", "mountPath": "/cache"}
    ]
    [volume] = read(deployment).containers["nginx"].volumes
    assert (volume.type, volume.path, volume.space, volume.name) == (
        "local",
        "/cache",
        500 * 1024**2,
        "cache",
    )


def test_scheduling_fields() -> None:
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
                ]
            }
        }
    }
    spec = read(
        with_pod(
            {
                "nodeSelector": {"disk": "ssd"},
                "affinity": affinity,
                "terminationGracePeriodSeconds": 30,
            }
        )
    )
    assert spec.node_selector == {"disk": "ssd"}
    assert [(e.key, e.operator, e.values) for e in spec.affinity] == [("zone", "In", ["a", "b"])]
    assert spec.containers["nginx"].stop_grace_period == 30


@pytest.mark.parametrize(
    ("strategy", "replicas", "max_parallel"),
    [
        ({}, 3, 1),
        ({}, 10, 3),  # 25% surge of 10, rounded up
        ({"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}, 3, 2),
        ({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "50%"}}, 4, 2),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "100%"}}, 5, 5),
    ],
)
def test_rolling_update_is_the_update_block(
    strategy: dict[str, Any], replicas: int, max_parallel: int
) -> None:
    spec = read(nginx(strategy=strategy, replicas=replicas))
    assert spec.update.max_parallel == max_parallel


def test_defaults_kubernetes_fills_are_accepted() -> None:
    deployment = nginx(revisionHistoryLimit=10, progressDeadlineSeconds=600, minReadySeconds=5)
    deployment["spec"]["template"]["spec"].update(
        {
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "securityContext": {},
            "serviceAccountName": "default",
        }
    )
    deployment["metadata"].update(
        {
            "namespace": "default",
            "uid": "x",
            "resourceVersion": "9",
            "generation": 2,
            "creationTimestamp": None,
        }
    )
    deployment["spec"]["template"]["metadata"]["creationTimestamp"] = None
    deployment["status"] = {"replicas": 3}
    spec = read(deployment)
    assert spec.update.min_healthy_time == 5 and spec.update.progress_deadline == 600


def test_replicas_default_to_one_and_labels_and_annotations_are_kept() -> None:
    deployment = nginx()
    del deployment["spec"]["replicas"]
    deployment["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
        "deployment.kubernetes.io/revision": "7",  # the server's: not kept
    }
    spec = read(deployment)
    assert spec.num_instances == 1
    assert set(spec.annotations) == {
        "kubectl.kubernetes.io/last-applied-configuration",
        KUBE_SPEC_ANNOTATION,
    }


@pytest.mark.parametrize(
    ("deployment", "field", "reason"),
    [
        (
            with_pod({"hostNetwork": True}),
            "spec.template.spec.hostNetwork",
            "FieldValueNotSupported",
        ),
        (
            with_pod({"initContainers": [{"name": "i", "image": "x"}]}),
            "spec.template.spec.initContainers",
            "FieldValueNotSupported",
        ),
        (
            with_pod({"serviceAccountName": "robot"}),
            "spec.template.spec.serviceAccountName",
            "FieldValueNotSupported",
        ),
        (
            with_pod({"restartPolicy": "Never"}),
            "spec.template.spec.restartPolicy",
            "FieldValueNotSupported",
        ),
        (with_pod({"tolerations": []}), "spec.template.spec.tolerations", "FieldValueNotSupported"),
        (
            with_pod({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
            "spec.template.spec.volumes[0].hostPath",
            "FieldValueNotSupported",
        ),
        (
            with_pod({"volumes": [{"name": "e", "emptyDir": {}}]}),
            "spec.template.spec.volumes[0].emptyDir.sizeLimit",
            "FieldValueRequired",
        ),
        (
            with_pod(
                {"volumes": [{"name": "e", "emptyDir": {"sizeLimit": "1Gi", "medium": "Memory"}}]}
            ),
            "spec.template.spec.volumes[0].emptyDir.medium",
            "FieldValueNotSupported",
        ),
        (
            with_container({"securityContext": {"privileged": True}}),
            "spec.template.spec.containers[0].securityContext.privileged",
            "FieldValueNotSupported",
        ),
        (
            with_container({"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}),
            "spec.template.spec.containers[0].securityContext.capabilities.add",
            "FieldValueNotSupported",
        ),
        (
            with_container(
                {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}
            ),
            "spec.template.spec.containers[0].env[0].valueFrom",
            "FieldValueNotSupported",
        ),
        (
            with_container({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}),
            "spec.template.spec.containers[0].env[1].name",
            "FieldValueDuplicate",
        ),
        (
            with_container({"ports": [{"containerPort": 80, "hostPort": 8080}]}),
            "spec.template.spec.containers[0].ports[0].hostPort",
            "FieldValueNotSupported",
        ),
        (
            with_container({"ports": [{"containerPort": 80, "protocol": "SCTP"}]}),
            "spec.template.spec.containers[0].ports[0].protocol",
            "FieldValueNotSupported",
        ),
        (
            with_container({"resources": {"limits": {"nvidia.com/gpu": 1}}}),
            "spec.template.spec.containers[0].resources.limits.nvidia.com/gpu",
            "FieldValueNotSupported",
        ),
        (
            with_container({"resources": {"limits": {"memory": "lots"}}}),
            "spec.template.spec.containers[0].resources.limits.memory",
            "FieldValueInvalid",
        ),
        (
            with_container({"imagePullPolicy": "Sometimes"}),
            "spec.template.spec.containers[0].imagePullPolicy",
            "FieldValueNotSupported",
        ),
        (
            with_container({"startupProbe": {"exec": {"command": ["true"]}}}),
            "spec.template.spec.containers[0].startupProbe",
            "FieldValueNotSupported",
        ),
        (
            with_container({"livenessProbe": {"grpc": {"port": 1}}}),
            "spec.template.spec.containers[0].livenessProbe.grpc",
            "FieldValueNotSupported",
        ),
        (
            with_container({"readinessProbe": {"httpGet": {"port": 80, "scheme": "HTTPS"}}}),
            "spec.template.spec.containers[0].readinessProbe.httpGet.scheme",
            "FieldValueNotSupported",
        ),
        (
            with_container({"readinessProbe": {"httpGet": {"port": "nope"}}}),
            "spec.template.spec.containers[0].readinessProbe.httpGet.port",
            "FieldValueInvalid",
        ),
        (
            with_container(
                {
                    "livenessProbe": {"tcpSocket": {"port": 80}},
                    "readinessProbe": {"tcpSocket": {"port": 81}},
                }
            ),
            "spec.template.spec.containers[0].livenessProbe",
            "FieldValueInvalid",
        ),
        (
            with_container({"volumeMounts": [{"name": "nowhere", "mountPath": "/x"}]}),
            "spec.template.spec.containers[0].volumeMounts[0].name",
            "FieldValueInvalid",
        ),
        (
            with_container({"lifecycle": {"preStop": {}}}),
            "spec.template.spec.containers[0].lifecycle",
            "FieldValueNotSupported",
        ),
        (nginx(strategy={"type": "Recreate"}), "spec.strategy.type", "FieldValueNotSupported"),
        (
            nginx(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
            "spec.strategy.rollingUpdate.maxUnavailable",
            "FieldValueInvalid",
        ),
        (nginx(paused=True), "spec.paused", "FieldValueNotSupported"),
        (nginx(revisionHistoryLimit=3), "spec.revisionHistoryLimit", "FieldValueNotSupported"),
        (
            nginx(selector={"matchLabels": {"app": "other"}}),
            "spec.template.metadata.labels",
            "FieldValueInvalid",
        ),
        (
            nginx(selector={"matchExpressions": []}),
            "spec.selector.matchExpressions",
            "FieldValueNotSupported",
        ),
        (nginx(replicas=-1), "spec.replicas", "FieldValueInvalid"),
        (nginx(replicas="3"), "spec.replicas", "FieldValueInvalid"),
        (nginx(unknownField=1), "spec.unknownField", "FieldValueNotSupported"),
        ({**nginx(), "apiVersion": "apps/v1beta1"}, "apiVersion", "FieldValueNotSupported"),
        (
            {**nginx(), "metadata": {"name": "n", "namespace": "prod"}},
            "metadata.namespace",
            "FieldValueNotSupported",
        ),
        (
            {**nginx(), "metadata": {"name": "n", "finalizers": ["x"]}},
            "metadata.finalizers",
            "FieldValueNotSupported",
        ),
    ],
)
def test_unmapped_fields_are_refused_by_path(
    deployment: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(Unsupported) as raised:
        job_spec_from_deployment(deployment)
    causes = raised.value.status["details"]["causes"]
    assert {"field": field, "reason": reason} in [
        {"field": c["field"], "reason": c["reason"]} for c in causes
    ]
    assert raised.value.code == 422 and raised.value.reason == "Invalid"
    assert field in str(raised.value)


def test_a_refusal_names_ozys_way_where_there_is_one() -> None:
    with pytest.raises(Unsupported) as raised:
        job_spec_from_deployment(with_pod({"imagePullSecrets": [{"name": "regcred"}]}))
    assert "ozy registry login" in raised.value.causes[0]["message"]


def test_every_unmapped_field_is_listed_at_once() -> None:
    deployment = with_pod({"hostNetwork": True, "hostPID": True})
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {
        "privileged": True
    }
    with pytest.raises(Unsupported) as raised:
        job_spec_from_deployment(deployment)
    fields = {cause["field"] for cause in raised.value.causes}
    assert fields == {
        "spec.template.spec.hostNetwork",
        "spec.template.spec.hostPID",
        "spec.template.spec.containers[0].securityContext.privileged",
    }
    assert str(raised.value).startswith('Deployment.apps "nginx-deployment" is invalid: [')


@pytest.mark.parametrize(
    "deployment",
    [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}},
        nginx(template={"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": "nginx"}}),
        nginx(
            template={
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "a"}]},
            }
        ),
        {"metadata": "x", "spec": []},
        "not an object",
    ],
)
def test_malformed_deployments_are_invalid_not_crashes(deployment: Any) -> None:
    with pytest.raises(Unsupported):
        job_spec_from_deployment(deployment)
