"""Which fields a write changed: what a Node or Scale patch may not touch is named by path."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube.object_diff import changed_paths, value_at

NODE: dict[str, Any] = {
    "metadata": {"name": "n1", "labels": {"zone": "a"}},
    "spec": {"podCIDR": "10.0.1.0/24"},
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}


@pytest.mark.parametrize(
    ("after", "changed"),
    [
        (NODE, []),
        ({**NODE, "spec": {**NODE["spec"], "unschedulable": True}}, ["spec.unschedulable"]),
        # null and absent are the same (omitempty): uncordoning an uncordoned node changes nothing
        ({**NODE, "spec": {**NODE["spec"], "unschedulable": None}}, []),
        (
            {**NODE, "metadata": {"name": "n1", "labels": {"zone": "b"}}},
            ["metadata.labels.zone"],
        ),
        (
            {**NODE, "metadata": {"name": "n1", "labels": {}}},
            ["metadata.labels.zone"],
        ),
        (
            {**NODE, "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            ["status.conditions[0].status"],
        ),
        ({**NODE, "status": {"conditions": []}}, ["status.conditions"]),
        (
            {**NODE, "spec": {"podCIDR": "x", "taints": [{"key": "k"}]}},
            ["spec.podCIDR", "spec.taints"],
        ),
        # true is not 1 in JSON
        ({**NODE, "spec": {**NODE["spec"], "unschedulable": 1}}, ["spec.unschedulable"]),
    ],
)
def test_changed_paths(after: dict[str, Any], changed: list[str]) -> None:
    assert changed_paths(NODE, after) == changed


def test_a_whole_document_replaced_by_a_scalar_is_the_root() -> None:
    assert changed_paths(NODE, 3) == [""]


@pytest.mark.parametrize(
    ("path", "value"),
    [("spec.podCIDR", "10.0.1.0/24"), ("spec.unschedulable", None), ("metadata.name.x", None)],
)
def test_value_at(path: str, value: Any) -> None:
    assert value_at(NODE, path) == value
