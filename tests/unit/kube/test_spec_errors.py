"""A job spec's validation problems, as kubectl will show them: by the Deployment's fields."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube.deployments import job_spec_from_deployment
from ozymandias.kube.spec_errors import deployment_field, deployment_invalid
from ozymandias.spec.limits import SpecLimits
from ozymandias.spec.loader import SpecError, job_from_data
from tests.unit.kube.manifests import nginx, with_container, with_pod

PROBED = with_container({"readinessProbe": {"tcpSocket": {"port": 80}}})


@pytest.mark.parametrize(
    ("path", "obj", "field"),
    [
        ("", nginx(), "spec"),
        ("name", nginx(), "metadata.name"),
        ("numInstances", nginx(), "spec.replicas"),
        ("labels", nginx(), "metadata.labels"),
        ("update.min_healthy_time", nginx(), "spec.minReadySeconds"),
        ("update.canary", nginx(), "metadata.annotations[ozymandias.io/job-extras].update.canary"),
        (
            "affinity.1.values",
            nginx(),
            "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values",
        ),
        (
            "containers.nginx.memory",
            nginx(),
            "spec.template.spec.containers[0].resources.limits.memory",
        ),
        ("containers.nginx.command", nginx(), "spec.template.spec.containers[0].args"),
        (
            "containers.nginx.volumes.0.path",
            nginx(),
            "spec.template.spec.containers[0].volumeMounts[0].path",
        ),
        (
            "containers.nginx.stop_grace_period",
            nginx(),
            "spec.template.spec.terminationGracePeriodSeconds",
        ),
        (
            "containers.nginx.healthcheck.timeout",
            PROBED,
            "spec.template.spec.containers[0].readinessProbe.timeoutSeconds",
        ),
        (
            "containers.nginx.healthcheck.port",
            PROBED,
            "spec.template.spec.containers[0].readinessProbe.tcpSocket.port",
        ),
        (
            "containers.nginx.secrets.0",
            nginx(),
            "metadata.annotations[ozymandias.io/job-extras].containers.nginx.secrets[0]",
        ),
        ("containers.other.image", nginx(), "spec.template.spec.containers"),
    ],
)
def test_job_fields_are_named_as_deployment_fields(
    path: str, obj: dict[str, Any], field: str
) -> None:
    assert deployment_field(path, obj) == field


def test_a_refused_job_spec_is_an_invalid_deployment() -> None:
    deployment = with_pod({"terminationGracePeriodSeconds": 3600})
    deployment["spec"]["replicas"] = 50
    with pytest.raises(SpecError) as raised:
        job_from_data(job_spec_from_deployment(deployment), SpecLimits(max_instances=10))
    error = deployment_invalid(deployment, raised.value)
    assert error.code == 422 and error.reason == "Invalid"
    fields = [cause["field"] for cause in error.status["details"]["causes"]]
    assert fields == ["spec.replicas", "spec.template.spec.terminationGracePeriodSeconds"]
    assert str(error).startswith(
        'Deployment.apps "nginx-deployment" is invalid: [spec.replicas: at most 10'
    )
