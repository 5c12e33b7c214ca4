"""A write's body: JSON, or a patch of the type its Content-Type names."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.kube.status import KubeError
from ozymandias.kube_api.request_body import patched, read_object, read_patch

NODE: dict[str, Any] = {"metadata": {"name": "n1"}, "spec": {}}


@pytest.mark.parametrize(
    ("content_type", "body", "result"),
    [
        (
            "application/strategic-merge-patch+json",
            b'{"spec":{"unschedulable":true}}',
            {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
        ),
        (
            "application/merge-patch+json; charset=utf-8",
            b'{"spec":{"unschedulable":null}}',
            {"metadata": {"name": "n1"}, "spec": {}},
        ),
        (
            "application/json-patch+json",
            b'[{"op":"add","path":"/spec/unschedulable","value":true}]',
            {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
        ),
    ],
)
def test_each_patch_type(content_type: str, body: bytes, result: dict[str, Any]) -> None:
    assert patched("Node", NODE, read_patch(content_type, body)) == result


@pytest.mark.parametrize(
    ("content_type", "body", "code"),
    [
        ("application/apply-patch+yaml", b"spec: {}", 415),
        ("application/json", b"{}", 415),
        (None, b"{}", 415),
        ("application/merge-patch+json", b"{not json", 400),
        ("application/merge-patch+json", b"[" * 100_000, 400),
        ("application/json-patch+json", b'[{"op":"remove","path":"/spec/absent"}]', 400),
        ("application/strategic-merge-patch+json", b"[]", 400),
        ("application/merge-patch+json", b"[]", 400),
    ],
)
def test_refused(content_type: str | None, body: bytes, code: int) -> None:
    with pytest.raises(KubeError) as raised:
        patched("Node", NODE, read_patch(content_type, body))
    assert raised.value.code == code


def test_read_object() -> None:
    assert read_object(b'{"kind":"Scale"}') == {"kind": "Scale"}
    with pytest.raises(KubeError):
        read_object(b"[1]")
