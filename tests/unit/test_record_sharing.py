"""Mirrored records share their models' field-name sets, and read and copy as before."""

from __future__ import annotations

from pydantic import BaseModel

from ozymandias.cluster.record_sharing import shared
from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.spec.loader import load_job

SPEC = """\
name: {name}
numInstances: 3
containers:
  web: {{image: web:1, memory: 64M, ports: ['80:3000'], environment: {{A: b}}}}
  side: {{image: side:1, healthcheck: {{type: http, port: 3000}}}}
"""


def decoded(name: str) -> JobRecord:
    record = JobRecord(spec=load_job(SPEC.format(name=name)), version=2, submitted_at=5.0)
    return shared(JobRecord.from_json(record.to_json()))


def test_records_decoded_apart_share_their_field_sets_down_to_nested_models() -> None:
    first, second = decoded("a"), decoded("b")
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.spec.__pydantic_fields_set__ is second.spec.__pydantic_fields_set__
    web_a, web_b = first.spec.containers["web"], second.spec.containers["web"]
    assert web_a.__pydantic_fields_set__ is web_b.__pydantic_fields_set__
    assert web_a.ports[0].__pydantic_fields_set__ is web_b.ports[0].__pydantic_fields_set__


def test_a_shared_record_equals_and_serialises_as_the_one_decoded_plainly() -> None:
    record = JobRecord(spec=load_job(SPEC.format(name="c")), version=2, submitted_at=5.0)
    plain = JobRecord.from_json(record.to_json())
    shared = decoded("c")
    assert shared == plain
    assert shared.to_json() == plain.to_json()
    assert shared.model_fields_set == plain.model_fields_set


def test_copying_one_with_changes_leaves_the_others_field_sets_alone() -> None:
    first, second = decoded("d"), decoded("e")
    bare = shared(Schedule.from_json(b'{"job": "d"}'))
    other = shared(Schedule.from_json(b'{"job": "e"}'))
    changed = bare.model_copy(update={"placements": {0: "n1"}})
    assert changed.model_fields_set == {"job", "placements"}
    assert other.model_fields_set == {"job"}
    assert first.model_copy(update={"version": 3}).version == 3
    assert second.model_fields_set == first.model_fields_set


class Loose(BaseModel):
    """Not frozen: assigning a field adds to its set, so it must keep its own."""

    name: str
    size: int = 0


def test_a_model_that_is_not_frozen_keeps_its_own_field_set() -> None:
    first = shared(Loose.model_validate_json(b'{"name": "a"}'))
    second = shared(Loose.model_validate_json(b'{"name": "b"}'))
    first.size = 4
    assert first.model_fields_set == {"name", "size"}
    assert second.model_fields_set == {"name"}


def test_equal_plain_parts_are_one_model_and_others_stay_apart() -> None:
    first, second = decoded("f"), decoded("g")
    assert first.spec.update is second.spec.update
    assert first.spec.containers["web"].ports[0] is second.spec.containers["web"].ports[0]
    # Holding lists and dicts, a container could change in place: never shared.
    assert first.spec.containers["web"] is not second.spec.containers["web"]
    slower = JobRecord(
        spec=load_job(SPEC.format(name="h") + "update: {max_parallel: 2}\n"), version=2
    )
    other = shared(JobRecord.from_json(slower.to_json()))
    assert other.spec.update is not first.spec.update
    assert other.spec.update.max_parallel == 2
    assert first.spec.update.max_parallel == 1
