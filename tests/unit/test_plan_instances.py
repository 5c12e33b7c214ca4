"""What a plan does to each instance (plans/instance_changes.py), from the schedules before
and after it and whether the pods change."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.plans.instance_changes import (
    Action,
    InstanceChange,
    changes_anything,
    counts,
    instance_changes,
)
from ozymandias.spec.loader import load_job
from ozymandias.spec.models import IngressSpec

SPEC = load_job("name: web\nnumInstances: 2\ncontainers: {app: {image: web:1}}\n")
CURRENT = JobRecord(spec=SPEC, version=3)
BEFORE = Schedule(job="web", placements={0: "n1", 1: "n2"})


def record(version: int = 3, **spec_changes: object) -> JobRecord:
    return JobRecord(spec=SPEC.model_copy(update=spec_changes), version=version)


@pytest.mark.parametrize(
    ("proposed", "after", "placed", "stopped", "expected"),
    [
        pytest.param(
            record(),
            BEFORE,
            {},
            [],
            [InstanceChange(0, Action.KEPT, "n1"), InstanceChange(1, Action.KEPT, "n2")],
            id="nothing",
        ),
        pytest.param(
            record(version=4),
            BEFORE,
            {},
            [],
            [InstanceChange(0, Action.REPLACED, "n1"), InstanceChange(1, Action.REPLACED, "n2")],
            id="new pods: a new version replaces every instance where it is",
        ),
        pytest.param(
            record(ingress=IngressSpec(hosts=["web.example.com"])),
            BEFORE,
            {},
            [],
            [InstanceChange(0, Action.UPDATED, "n1"), InstanceChange(1, Action.UPDATED, "n2")],
            id="same pods: updated in place",
        ),
        pytest.param(
            record(num_instances=3),
            Schedule(job="web", placements={0: "n1", 1: "n2", 2: "n3"}),
            {2: "n3"},
            [],
            [
                InstanceChange(0, Action.KEPT, "n1"),
                InstanceChange(1, Action.KEPT, "n2"),
                InstanceChange(2, Action.CREATED, "n3"),
            ],
            id="scale up: created, the rest kept",
        ),
        pytest.param(
            record(num_instances=1),
            Schedule(job="web", placements={0: "n1"}),
            {},
            [1],
            [InstanceChange(0, Action.KEPT, "n1"), InstanceChange(1, Action.STOPPED, "n2")],
            id="scale down: stopped where it ran",
        ),
        pytest.param(
            record(version=4, num_instances=1),
            Schedule(job="web", placements={0: "n1"}),
            {},
            [1],
            [InstanceChange(0, Action.REPLACED, "n1"), InstanceChange(1, Action.STOPPED, "n2")],
            id="new pods and fewer of them",
        ),
        pytest.param(
            record(),
            Schedule(job="web", placements={0: "n1", 1: "n3"}),
            {1: "n3"},
            [],
            [
                InstanceChange(0, Action.KEPT, "n1"),
                InstanceChange(1, Action.REPLACED, "n3", previous_node="n2"),
            ],
            id="moved to another node: replaced there",
        ),
    ],
)
def test_each_instance_is_kept_updated_replaced_created_or_stopped(
    proposed: JobRecord,
    after: Schedule,
    placed: dict[int, str],
    stopped: list[int],
    expected: list[InstanceChange],
) -> None:
    assert instance_changes(CURRENT, BEFORE, proposed, after, placed, stopped) == expected


def test_a_new_job_creates_every_instance() -> None:
    after = Schedule(job="web", placements={0: "n2", 1: "n1"})
    changes = instance_changes(None, None, record(version=1), after, after.placements, [])
    assert changes == [
        InstanceChange(0, Action.CREATED, "n2"),
        InstanceChange(1, Action.CREATED, "n1"),
    ]
    assert counts(changes) == {"created": 2}
    assert changes_anything(changes)


def test_counts_follow_the_actions_order_and_kept_alone_changes_nothing() -> None:
    changes = [
        InstanceChange(2, Action.STOPPED, "n1"),
        InstanceChange(0, Action.KEPT, "n1"),
        InstanceChange(1, Action.CREATED, "n2"),
    ]
    assert list(counts(changes).items()) == [("kept", 1), ("created", 1), ("stopped", 1)]
    assert not changes_anything(changes[1:2])
