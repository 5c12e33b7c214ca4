"""Choosing the patch engine by the request's content type, as the kube API's PATCH does."""

from typing import Any

import pytest

from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patches import apply_patch, patch_type


def _deployment() -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}},
        },
    }


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/strategic-merge-patch+json", "application/strategic-merge-patch+json"),
        ("application/merge-patch+json; charset=utf-8", "application/merge-patch+json"),
        ("Application/JSON-Patch+JSON", "application/json-patch+json"),
        ("application/apply-patch+yaml", None),
        ("application/json", None),
    ],
)
def test_patch_type(content_type: str, expected: str | None) -> None:
    assert patch_type(content_type) == expected


def test_each_type_reaches_its_engine() -> None:
    containers = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "y"}]}}}}
    strategic = apply_patch(
        "application/strategic-merge-patch+json", _deployment(), containers, "Deployment"
    )
    assert [c["name"] for c in strategic["spec"]["template"]["spec"]["containers"]] == ["a", "b"]
    merged = apply_patch("application/merge-patch+json", _deployment(), containers, "Deployment")
    assert merged["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "y"}]
    operations = [{"op": "replace", "path": "/spec/replicas", "value": 4}]
    json_patched = apply_patch(
        "application/json-patch+json", _deployment(), operations, "Deployment"
    )
    assert json_patched["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("content_type", "patch", "kind", "message"),
    [
        ("application/json", {}, "Deployment", "not a patch type"),
        ("application/strategic-merge-patch+json", {}, "Widget", "not supported for Widget"),
        ("application/merge-patch+json", [1], "Deployment", "must be a JSON object"),
        (
            "application/json-patch+json",
            [{"op": "replace", "path": "", "value": 3}],
            "Deployment",
            "must be a JSON object",
        ),
    ],
)
def test_what_cannot_be_applied_is_refused(
    content_type: str, patch: Any, kind: str, message: str
) -> None:
    with pytest.raises(PatchError, match=message):
        apply_patch(content_type, _deployment(), patch, kind)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/strategic-merge-patch+json", _nested(20_000)),
        ("application/merge-patch+json", _nested(20_000)),
        ("application/json-patch+json", [{"op": "add", "path": "/x", "value": _nested(20_000)}]),
    ],
)
def test_a_patch_nested_past_the_stack_is_refused(content_type: str, patch: Any) -> None:
    with pytest.raises(PatchError, match="nested too deeply"):
        apply_patch(content_type, _deployment(), patch, "Deployment")
