"""Our table of gnostic messages agrees with the one kubectl decodes with.

The real OpenAPIv2.proto is compiled into kubectl; tests/support/go_descriptors.py
finds its descriptor there, so a wrong field number or type in kube/gnostic.py
fails here instead of as a garbled document in kubectl. Runs against the
kubectl the kube tests use (tests/support/kubectl.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from ozymandias.kube import gnostic
from tests.support import go_descriptors
from tests.support.kubectl import kubectl_binary


@pytest.fixture(scope="module")
def real() -> dict[str, descriptor_pb2.DescriptorProto]:
    try:
        binary = Path(kubectl_binary()).resolve()
    except RuntimeError:
        pytest.skip("no kubectl to compare with")
    found = go_descriptors.find(binary, gnostic.FILE_NAME, gnostic.PACKAGE)
    assert found is not None, f"no {gnostic.FILE_NAME} descriptor in {binary}"
    return {message.name: message for message in found.message_type}


def test_every_field_has_kubectls_number_type_label_and_oneof(
    real: dict[str, descriptor_pb2.DescriptorProto],
) -> None:
    ours = gnostic.file_descriptor()
    assert ours.package == gnostic.PACKAGE
    for message in ours.message_type:
        theirs = {field.name: field for field in real[message.name].field}
        for field in message.field:
            other = theirs[field.name]
            where = f"{message.name}.{field.name}"
            assert (field.number, field.type, field.label) == (
                other.number, other.type, other.label
            ), where
            assert field.type_name == other.type_name, where
            assert field.HasField("oneof_index") == other.HasField("oneof_index"), where


def test_the_oneof_messages_are_kubectls(
    real: dict[str, descriptor_pb2.DescriptorProto],
) -> None:
    with_oneof = {name for name, message in real.items() if message.oneof_decl}
    used = with_oneof & set(gnostic.MESSAGES)
    assert used == gnostic.ONEOF_MESSAGES
