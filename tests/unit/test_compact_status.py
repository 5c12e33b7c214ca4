"""The mirrors' compact instance statuses read back as the records they came from."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ozymandias.api.views import instance_view
from ozymandias.cluster.compact_status import (
    CompactContainer,
    CompactStatus,
    compact,
    decode,
    expand,
)
from ozymandias.cluster.records import ContainerStatus, Health, InstanceState, InstanceStatus

texts = st.text(max_size=20)
counts = st.integers(min_value=0, max_value=2**40)
times = st.floats(allow_nan=False, allow_infinity=False)

containers = st.builds(
    ContainerStatus,
    name=texts,
    state=st.sampled_from(["running", "exited", "created"]),
    exit_code=st.none() | st.integers(min_value=-255, max_value=255),
    restarts=counts,
    crash_streak=counts,
    restart_at=st.none() | times,
)

statuses = st.builds(
    InstanceStatus,
    job=texts,
    index=counts,
    node=texts,
    state=st.sampled_from(InstanceState),
    reason=texts,
    pod_ip=texts,
    restarts=counts,
    spec_version=counts,
    containers=st.lists(containers, max_size=3),
    updated_at=times,
    health=st.sampled_from(Health),
    healthy_since=times,
    pod_id=texts,
)


@settings(max_examples=300, deadline=None)
@given(statuses)
def test_a_status_reads_back_equal_and_serialises_the_same(status: InstanceStatus) -> None:
    back = expand(decode(status.to_json()))
    assert back == status
    assert back.to_json() == status.to_json()
    assert back.model_dump(by_alias=True) == status.model_dump(by_alias=True)
    assert back.settled == status.settled


@settings(max_examples=100, deadline=None)
@given(statuses)
def test_the_api_view_of_a_compact_status_is_the_record_s(status: InstanceStatus) -> None:
    assert instance_view(status.job, status.index, status.node, compact(status)) == (
        instance_view(status.job, status.index, status.node, status)
    )


def status(job: str, index: int) -> bytes:
    return InstanceStatus(
        job=job,
        index=index,
        node="node-1",
        state=InstanceState.RUNNING,
        reason="exited with code 1",
        containers=[ContainerStatus(name="web", state="running")],
    ).to_json()


def test_statuses_decoded_apart_share_their_repeated_strings() -> None:
    # Built at run time, so neither the compiler nor the decoder shares them already.
    job = "".join(["shop-", "front"])
    first, second = decode(status(job, 0)), decode(status(job, 1))
    assert first.job is second.job
    assert first.node is second.node
    assert first.reason is second.reason
    assert first.containers[0].name is second.containers[0].name


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"job": "a"}', b'{"job":"a","index":0,"node":"n","state":"running","extra":1}'],
)
def test_what_is_not_a_status_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode(raw)


def test_compact_statuses_cannot_be_changed_in_place() -> None:
    kept: CompactStatus = decode(status("a", 0))
    with pytest.raises(AttributeError):
        kept.node = "elsewhere"  # type: ignore[misc]


def test_the_compact_forms_keep_every_field_of_the_records_in_their_order() -> None:
    # A field added to a record must be added here too, or the mirrors would drop it.
    assert list(CompactStatus._fields) == list(InstanceStatus.model_fields)
    assert list(CompactContainer._fields) == list(ContainerStatus.model_fields)
