"""Preemption in a job's plan (jobs/planning.py): only when the node allows it for the job's
type and the job is important enough; the victims' schedules and freed room come with it."""

import pytest

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.planning import place
from ozymandias.scheduling.preemption import preemption_types
from ozymandias.spec.loader import load_job
from ozymandias.store.planning_inputs import OtherJob, PlanningInputs

M = 1024**2
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=1024 * M, disk=1024 * M),
    started_at=0,
)


def job(name: str, priority: int, count: int, memory: str) -> str:
    return (
        f"name: {name}\npriority: {priority}\nnumInstances: {count}\n"
        f"containers: {{app: {{image: {name}:1, memory: {memory}}}}}\n"
    )


def inputs(
    types: frozenset[str], low_priority: int = 10, low_deploying: bool = False
) -> PlanningInputs:
    """n1 full with four 256M instances of `low`."""
    low = JobRecord(spec=load_job(job("low", low_priority, 4, "256M")))
    schedule = Schedule(job="low", placements={i: "n1" for i in range(4)})
    return PlanningInputs(
        nodes=[NODE],
        allocations={"n1": (Resources(memory=1024 * M), 7)},
        job=None,
        job_revision=0,
        schedule=None,
        schedule_revision=0,
        preempting_types=types,
        others={"low": OtherJob(low, 5, schedule, 6, deploying=low_deploying)},
    )


def test_a_priority_80_job_preempts_exactly_the_room_it_needs() -> None:
    spec = load_job(job("big", 80, 1, "512M"))
    placement = place(spec, inputs(frozenset({"service"})), None)
    assert [(v.job, v.index) for v in placement.victims] == [("low", 0), ("low", 1)]
    low = placement.preempted["low"]
    assert low.placements == {2: "n1", 3: "n1"}
    assert low.pending == {0: "preempted by big (priority 80)", 1: "preempted by big (priority 80)"}
    assert placement.result.allocation_delta == {"n1": Resources()}


@pytest.mark.parametrize(
    ("types", "priority", "low_priority", "low_deploying"),
    [
        pytest.param(
            frozenset({"system"}), 80, 10, False, id="service preemption off (the default)"
        ),
        pytest.param(frozenset({"service"}), 69, 10, False, id="not important enough"),
        pytest.param(frozenset({"service"}), 80, 61, False, id="victims less than 20 lower"),
        pytest.param(frozenset({"service"}), 80, 10, True, id="victims mid-deployment"),
    ],
)
def test_refused_as_before(
    types: frozenset[str], priority: int, low_priority: int, low_deploying: bool
) -> None:
    spec = load_job(job("big", priority, 1, "512M"))
    with pytest.raises(JobRejected) as refused:
        place(spec, inputs(types, low_priority, low_deploying), None)
    assert refused.value.kind == "insufficient-memory"


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ("system", {"system"}),
        ("service,system", {"service", "system"}),
        (" service ", {"service"}),
        ("none", set()),
    ],
)
def test_preemption_flag(text: str, types: set[str]) -> None:
    assert preemption_types(text) == types


def test_preemption_flag_refuses_unknown_types() -> None:
    with pytest.raises(ValueError, match="not batch"):
        preemption_types("service,batch")
