"""Fuzzing the API of a live node with schemathesis, from its own /openapi.json.

Every operation the document lists is fuzzed, so a new endpoint is covered
without a line here. Half the cases fit the document, half break it on
purpose (schemathesis' negative mode). For each answer: no 5xx, a status
the document lists, its content type, and a body that fits its schema.
Afterwards the node must still hold the lease it started with.

The node is cordoned first, so no generated job is ever placed: the fuzz
exercises parsing, validation, planning and refusals, never podman.

A watch stream (`?watch=true`) never ends by itself: its answer is checked
as it starts (status, content type), then the stream is closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ozymandias.secrets.keyring import write_new_key_file
from tests.support.auth import bearer
from tests.support.etcd import EtcdServer
from tests.support.nodes import NodeFactory

EXAMPLES_PER_OPERATION = 80
# What FastAPI reads as true in a query parameter.
_TRUE = {"1", "on", "t", "true", "y", "yes"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_fuzzing_every_operation_finds_no_5xx_and_answers_as_documented(
    make_node: NodeFactory, etcd: EtcdServer, tmp_path: Path
) -> None:
    # With a secrets key, so secrets are sealed and opened, not only refused.
    key_file = tmp_path / "secrets.key"
    write_new_key_file(key_file)
    node = make_node("fuzz1", lease_ttl=5, extra_args=("--secrets-key-file", str(key_file)))
    assert node.request("POST", "/v1/nodes/fuzz1/cordon").status_code == 200
    lease = etcd.node_lease("fuzz1")
    schema = schemathesis.openapi.from_url(f"{node.api}/openapi.json", timeout=30, headers=bearer())
    operations = []
    for result in schema.get_all_operations():
        # An operation the document describes badly is a failure of its own.
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) >= 20  # every router's operations are in the document
    calls: dict[str, int] = {}
    streams: list[str] = []  # the watch streams checked as they start

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case[Any]) -> None:
            label = case.operation.label
            calls[label] = calls.get(label, 0) + 1
            if _watches(case):
                streams.append(label)
                _check_watch(case, node.api)
                return
            case.call_and_validate(base_url=node.api, checks=CHECKS, timeout=30, headers=bearer())

        fuzz()

    assert sum(calls.values()) >= 1000, calls
    assert set(calls) == {operation.label for operation in operations}
    assert len(set(streams)) == 4, set(streams)  # instances, jobs, nodes, events
    assert node.answers(), node.log_tail()
    assert etcd.node_lease("fuzz1") == lease
    assert "FENCING" not in node.log_path.read_text()


def _watches(case: schemathesis.Case[Any]) -> bool:
    return case.method == "GET" and str((case.query or {}).get("watch", "")).lower() in _TRUE


def _check_watch(case: schemathesis.Case[Any], api: str) -> None:
    """A stream's start as documented; any refusal validated as every other answer is."""
    kwargs = case.as_transport_kwargs(base_url=api, headers=bearer())
    with requests.request(**kwargs, stream=True, timeout=30) as response:
        if response.status_code == 200:
            assert response.headers["content-type"].startswith("text/event-stream")
            return
        response.content  # noqa: B018 (a refusal is short: read it whole to validate it)
    case.validate_response(response, checks=CHECKS)
