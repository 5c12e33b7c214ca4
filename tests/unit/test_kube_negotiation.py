"""What the Kubernetes API answers to each Accept header kubectl sends (negotiation.py)."""

from __future__ import annotations

import pytest

from ozymandias.kube_api.negotiation import (
    IncludeObject,
    NotAcceptable,
    Shape,
    include_object,
    is_watch,
    response_shape,
    wants_protobuf,
)

KUBECTL_GET = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


@pytest.mark.parametrize(
    ("accept", "shape"),
    [
        (None, Shape.OBJECT),
        ("", Shape.OBJECT),
        ("application/json", Shape.OBJECT),
        ("*/*", Shape.OBJECT),
        ("application/json, */*", Shape.OBJECT),
        (KUBECTL_GET, Shape.TABLE),  # kubectl get (1.20 and 1.32)
        ("application/json;as=Table;v=v1;g=meta.k8s.io", Shape.TABLE),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", Shape.TABLE),
        ("application/json; as=Table; g=meta.k8s.io; v=v1", Shape.TABLE),
        # Not served: falls back to the next type, JSON.
        (
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json",
            Shape.OBJECT,
        ),
        ("application/vnd.kubernetes.protobuf,application/json", Shape.OBJECT),
        # A Table of another group is not ours.
        ("application/json;as=Table;v=v1;g=example.com,application/json", Shape.OBJECT),
    ],
)
def test_the_first_media_type_served_wins(accept: str | None, shape: Shape) -> None:
    assert response_shape(accept) is shape


@pytest.mark.parametrize(
    "accept",
    [
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    ],
)
def test_a_header_with_nothing_served_is_not_acceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        response_shape(accept)


@pytest.mark.parametrize(
    ("value", "included"),
    [
        (None, IncludeObject.METADATA),
        ("", IncludeObject.METADATA),
        ("None", IncludeObject.NONE),
        ("Metadata", IncludeObject.METADATA),
        ("Object", IncludeObject.OBJECT),
    ],
)
def test_include_object(value: str | None, included: IncludeObject) -> None:
    assert include_object(value) is included


def test_an_unknown_include_object_is_refused() -> None:
    with pytest.raises(ValueError, match="includeObject"):
        include_object("Everything")


@pytest.mark.parametrize(
    ("accept", "protobuf"),
    [
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", True),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", True),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json", True),
        ("application/json", False),
        (None, False),
    ],
)
def test_the_openapi_document_as_protobuf_for_kubectl(accept: str | None, protobuf: bool) -> None:
    assert wants_protobuf(accept) is protobuf


@pytest.mark.parametrize(
    ("value", "watch"),
    [("1", True), ("true", True), ("True", True), ("0", False), ("false", False), (None, False)],
)
def test_watch_values(value: str | None, watch: bool) -> None:
    assert is_watch(value) is watch
