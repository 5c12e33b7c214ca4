"""The Kubernetes documentation's nginx Deployment, grown with the fields users
write most (strategy, nodeSelector, node affinity, emptyDir, env, ports,
resources, probes of each kind, a second container): what kubectl must accept
against our OpenAPI document without --validate=false."""

from __future__ import annotations

from typing import Any

NGINX: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "nginx-deployment", "labels": {"app": "nginx"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "nodeSelector": {"disk": "ssd"},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In", "values": ["a", "b"]}]}],
                }}},
                "volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "64Mi"}}],
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.14.2",
                        "args": ["-g", "daemon off;"],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "resources": {"limits": {"memory": "128Mi", "cpu": "500m"}},
                        "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                        "livenessProbe": {"httpGet": {"path": "/", "port": 80},
                                          "periodSeconds": 5, "failureThreshold": 3},
                        "readinessProbe": {"tcpSocket": {"port": "http"},
                                           "initialDelaySeconds": 1},
                    },
                    {"name": "sidecar", "image": "busybox",
                     "livenessProbe": {"exec": {"command": ["true"]}}},
                ],
            },
        },
    },
}
