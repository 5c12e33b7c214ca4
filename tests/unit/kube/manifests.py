"""Deployments the kube tests read: the Kubernetes documentation's nginx example and kin."""

from __future__ import annotations

import copy
from typing import Any


def nginx(**spec: Any) -> dict[str, Any]:
    """The nginx Deployment of the Kubernetes documentation, with `spec` fields replaced."""
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.14.2",
                            "ports": [{"containerPort": 80}],
                        }
                    ]
                },
            },
        },
    }
    deployment["spec"].update(spec)
    return deployment


def with_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """The nginx Deployment with pod spec fields added."""
    deployment = nginx()
    deployment["spec"]["template"]["spec"].update(copy.deepcopy(pod))
    return deployment


def with_container(container: dict[str, Any]) -> dict[str, Any]:
    """The nginx Deployment with fields added to its container."""
    deployment = nginx()
    deployment["spec"]["template"]["spec"]["containers"][0].update(copy.deepcopy(container))
    return deployment
