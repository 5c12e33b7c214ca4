"""JSON merge patch (RFC 7386): the RFC's examples, and the round trip with create_merge_patch."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ozymandias.kube.json_values import json_equal
from ozymandias.kube.merge_patch import apply_merge_patch, create_merge_patch

# RFC 7386 Appendix A, row by row: original, patch, result.
RFC_7386_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "result"), RFC_7386_APPENDIX_A)
def test_rfc_7386_appendix_a(original: Any, patch: Any, result: Any) -> None:
    assert json_equal(apply_merge_patch(original, patch), result)


def test_the_inputs_are_not_changed() -> None:
    original = {"a": {"b": 1}}
    patch = {"a": {"b": None, "c": [1]}}
    result = apply_merge_patch(original, patch)
    result["a"]["c"].append(2)
    assert original == {"a": {"b": 1}}
    assert patch == {"a": {"b": None, "c": [1]}}


def test_kubectl_scale_patch_on_a_scale() -> None:
    # kubectl scale sends {"spec":{"replicas":N}} as a merge patch to .../scale
    # (k8s.io/kubectl/pkg/scale/scale.go, ScaleSimple).
    scale = {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3},
        "status": {"replicas": 3, "selector": "app=web"},
    }
    result = apply_merge_patch(scale, {"spec": {"replicas": 5}})
    assert result["spec"] == {"replicas": 5}
    assert result["status"] == scale["status"]


CREATE_CASES = [
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1}, {"a": 2}, {"a": 2}),
    ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}),
    ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
    # JSON tells a boolean from a number; Python's == would not.
    ({"a": True}, {"a": 1}, {"a": 1}),
    ({"a": 1}, "x", "x"),
]


@pytest.mark.parametrize(("source", "target", "patch"), CREATE_CASES)
def test_create_merge_patch(source: Any, target: Any, patch: Any) -> None:
    assert json_equal(create_merge_patch(source, target), patch)


scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["", "a", "b"])
keys = st.sampled_from(["a", "b", "c", "d"])


def _without_null_members(value: Any) -> Any:
    """RFC 7386 cannot set a member to null, so the round trip is over documents without them."""
    if isinstance(value, dict):
        return {k: _without_null_members(v) for k, v in value.items() if v is not None}
    return value


documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)


@given(documents, documents.map(_without_null_members))
def test_the_patch_between_two_documents_turns_one_into_the_other(source: Any, target: Any) -> None:
    patch = create_merge_patch(source, target)
    assert json_equal(apply_merge_patch(source, patch), target)


@given(documents)
def test_an_empty_patch_leaves_an_object_as_it_is(document: Any) -> None:
    if isinstance(document, dict):
        assert json_equal(apply_merge_patch(document, {}), document)
