"""A job's annotations: Kubernetes' key syntax and size bounds, and no effect on its pods."""

from __future__ import annotations

import pytest

from ozymandias.labels.annotations import MAX_ANNOTATIONS, MAX_ANNOTATIONS_BYTES
from ozymandias.spec.loader import SpecError, job_from_data

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def job(**extra: object) -> dict[str, object]:
    return {"name": "web", "containers": {"app": {"image": "nginx"}}, **extra}


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {LAST_APPLIED: '{"apiVersion":"apps/v1","kind":"Deployment"}'},
        {"Team": "payments, billing & more: any text at all"},
        {"example.com/Owner": ""},
        {f"k{i}": "v" for i in range(MAX_ANNOTATIONS)},
        {"big": "x" * (MAX_ANNOTATIONS_BYTES - 3)},
    ],
)
def test_a_job_spec_takes_annotations(annotations: dict[str, str]) -> None:
    assert job_from_data(job(annotations=annotations)).annotations == annotations


@pytest.mark.parametrize(
    ("annotations", "said"),
    [
        ({"my key": "v"}, "annotation key"),
        ({"Example.com/x": "v"}, None),
        ({"bad_prefix!/x": "v"}, "annotation key"),
        ({"-x": "v"}, "annotation key"),
        ({f"k{i}": "v" for i in range(MAX_ANNOTATIONS + 1)}, "at most 64"),
        ({"big": "x" * (MAX_ANNOTATIONS_BYTES - 2)}, "at most 262144 bytes"),
        ({"a": "x" * 200_000, "b": "x" * 100_000}, "at most 262144 bytes"),
        ({"k": 3}, "annotations"),
    ],
)
def test_bad_annotations_are_refused(annotations: dict[str, object], said: str | None) -> None:
    if said is None:  # keys are checked in lowercase, as the apiserver checks them
        assert job_from_data(job(annotations=annotations)).annotations == annotations
        return
    with pytest.raises(SpecError) as raised:
        job_from_data(job(annotations=annotations))
    assert said in str(raised.value)
    assert any(problem.path.startswith("annotations") for problem in raised.value.problems)


def test_annotations_do_not_change_the_pod_fingerprint() -> None:
    plain = job_from_data(job())
    annotated = job_from_data(job(annotations={LAST_APPLIED: "{}"}))
    assert annotated.pod_fingerprint() == plain.pod_fingerprint()
    assert annotated != plain
