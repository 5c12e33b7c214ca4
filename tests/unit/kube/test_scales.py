"""The autoscaling/v1 Scale of a Deployment, and the replicas a written one asks for."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube.scales import scale_of, selector_string, wanted_replicas
from ozymandias.kube.status import KubeError


def test_scale_of_a_deployment() -> None:
    deployment = {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "7",
            "labels": {"app": "web"},
            "generation": 3,
        },
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert scale_of(deployment) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7"},
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "app=web"},
    }


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        ({}, ""),
        ({"matchLabels": {"tier": "web", "app": "shop"}}, "app=shop,tier=web"),
        (
            {
                "matchLabels": {"app": "shop"},
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                    {"key": "zone", "operator": "NotIn", "values": ["c"]},
                    {"key": "canary", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
            "app=shop,env in (dev,prod),zone notin (c),canary,!legacy",
        ),
    ],
)
def test_selector_string(selector: dict[str, Any], text: str) -> None:
    assert selector_string(selector) == text


@pytest.mark.parametrize(
    ("scale", "replicas"),
    [({"spec": {"replicas": 4}}, 4), ({"spec": {}}, 0), ({"spec": {"replicas": 0}}, 0)],
)
def test_wanted_replicas(scale: Any, replicas: int) -> None:
    assert wanted_replicas(scale) == replicas


@pytest.mark.parametrize(
    "scale",
    [
        {},
        [],
        {"spec": {"replicas": -1}},
        {"spec": {"replicas": "3"}},
        {"spec": {"replicas": True}},
        {"spec": {"replicas": 2.5}},
    ],
)
def test_wanted_replicas_refuses(scale: Any) -> None:
    with pytest.raises(KubeError) as raised:
        wanted_replicas(scale)
    assert raised.value.code == 400
