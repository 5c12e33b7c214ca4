"""Preemption: which lower-priority instances a job that does not fit stops, table-tested."""

import pytest

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling import ClusterView, NodeView, PlacementRequest, PlanResult, Rejection
from ozymandias.scheduling.preemption import (
    Preemptible,
    PreemptingPlan,
    eligible,
    may_preempt,
    plan_system_with_preemption,
    plan_with_preemption,
    preempted_schedules,
)

M = 1024**2


def node(name: str, memory_mb: int, used_mb: int, **labels: str) -> NodeView:
    return NodeView(
        name=name,
        labels=labels,
        capacity_memory=memory_mb * M,
        capacity_disk=10_000 * M,
        free_memory=(memory_mb - used_mb) * M,
        free_disk=10_000 * M,
        capacity_cpu=4000,
        free_cpu=4000,
    )


def victim(job: str, index: int, node_name: str, priority: int, mb: int) -> Preemptible:
    return Preemptible(job, index, node_name, priority, Resources(memory=mb * M))


def request(count: int, mb: int, **selector: str) -> PlacementRequest:
    return PlacementRequest(job="big", count=count, memory=mb * M, disk=0, node_selector=selector)


def names(result: PlanResult | PreemptingPlan | Rejection) -> list[str]:
    assert isinstance(result, PreemptingPlan), result
    return sorted(f"{v.job}-{v.index}" for v in result.victims)


@pytest.mark.parametrize(
    ("job_type", "priority", "allowed", "may"),
    [
        pytest.param("service", 80, frozenset({"service"}), True, id="important service"),
        pytest.param("service", 70, frozenset({"service"}), True, id="at the threshold"),
        pytest.param("service", 69, frozenset({"service"}), False, id="below the threshold"),
        pytest.param("service", 100, frozenset({"system"}), False, id="service not allowed"),
        pytest.param("system", 10, frozenset({"system"}), True, id="system at any priority"),
    ],
)
def test_who_may_preempt(job_type: str, priority: int, allowed: frozenset[str], may: bool) -> None:
    assert may_preempt(job_type, priority, allowed) is may


def test_only_jobs_at_least_twenty_lower_are_eligible() -> None:
    instances = [victim("a", 0, "n1", 60, 64), victim("b", 0, "n1", 61, 64)]
    assert [i.job for i in eligible(instances, 80)] == ["a"]


def test_no_victims_when_it_fits() -> None:
    view = ClusterView([node("n1", 1024, 512)])
    result = plan_with_preemption(request(1, 256), None, view, [victim("low", 0, "n1", 10, 512)])
    assert isinstance(result, PlanResult)


@pytest.mark.parametrize(
    ("nodes", "instances", "req", "expected"),
    [
        pytest.param(
            [node("n1", 1024, 1024)],
            [victim("low", i, "n1", 10, 256) for i in range(4)],
            request(1, 512),
            ["low-0", "low-1"],
            id="exactly the instances needed",
        ),
        pytest.param(
            [node("n1", 1024, 1024), node("n2", 1024, 1024)],
            [
                victim("small", 0, "n1", 10, 256),
                victim("small", 1, "n1", 10, 256),
                victim("large", 0, "n2", 10, 512),
            ],
            request(1, 512),
            ["large-0"],
            id="fewest instances first",
        ),
        pytest.param(
            [node("n1", 1024, 1024), node("n2", 1024, 1024)],
            [victim("mid", 0, "n1", 40, 512), victim("low", 0, "n2", 10, 512)],
            request(1, 512),
            ["low-0"],
            id="lowest priority first across nodes",
        ),
        pytest.param(
            [node("n1", 1024, 1024)],
            [victim("mid", 0, "n1", 40, 512), victim("low", 0, "n1", 10, 512)],
            request(1, 512),
            ["low-0"],
            id="lowest priority first on a node",
        ),
        pytest.param(
            [node("n1", 1024, 1024)],
            [victim("low", 0, "n1", 10, 256), victim("mid", 0, "n1", 30, 768)],
            request(1, 768),
            ["mid-0"],
            id="a victim not needed after all is given back",
        ),
        pytest.param(
            [node("n1", 1024, 1024), node("n2", 1024, 1024)],
            [victim("low", 0, "n1", 10, 512), victim("low", 1, "n2", 10, 512)],
            request(2, 512),
            ["low-0", "low-1"],
            id="room for several pods",
        ),
        pytest.param(
            [node("n1", 1024, 1024, zone="a"), node("n2", 1024, 1024, zone="b")],
            [victim("low", 0, "n1", 10, 512), victim("low", 1, "n2", 5, 512)],
            request(1, 512, zone="a"),
            ["low-0"],
            id="only on nodes the job may run on",
        ),
    ],
)
def test_victims(
    nodes: list[NodeView], instances: list[Preemptible], req: PlacementRequest, expected: list[str]
) -> None:
    result = plan_with_preemption(req, None, ClusterView(nodes), instances)
    assert names(result) == expected


def test_the_plan_counts_the_victims_room_as_freed() -> None:
    view = ClusterView([node("n1", 1024, 1024)])
    result = plan_with_preemption(request(1, 512), None, view, [victim("low", 0, "n1", 10, 512)])
    assert isinstance(result, PreemptingPlan)
    # The victim's 512M go, the new pod's 512M come: the node's total is unchanged.
    assert result.plan.allocation_delta["n1"] == Resources()
    assert result.plan.placed == {0: "n1"}
    assert view.get("n1").free_memory == 0  # type: ignore[union-attr]  # the view is untouched


@pytest.mark.parametrize(
    ("instances", "req"),
    [
        pytest.param([victim("low", 0, "n1", 10, 256)], request(1, 512), id="not enough to stop"),
        pytest.param([], request(1, 512), id="nothing eligible"),
        pytest.param(
            [victim("low", 0, "n1", 10, 512)], request(2, 512), id="room for only one of two"
        ),
        pytest.param(
            [victim("low", 0, "n1", 10, 2048)], request(1, 4096), id="bigger than the node"
        ),
        pytest.param(
            [victim("low", 0, "n1", 10, 512)], request(1, 512, zone="b"), id="a constraint"
        ),
    ],
)
def test_refused_when_even_stopping_everything_eligible_is_not_enough(
    instances: list[Preemptible], req: PlacementRequest
) -> None:
    view = ClusterView([node("n1", 1024, 1024)])
    result = plan_with_preemption(req, None, view, instances)
    assert isinstance(result, Rejection)


def test_instances_of_the_job_itself_are_never_victims() -> None:
    view = ClusterView([node("n1", 1024, 1024)])
    own = Preemptible("big", 0, "n1", 0, Resources(memory=512 * M))
    assert isinstance(plan_with_preemption(request(2, 512), None, view, [own]), Rejection)


def test_preempted_instances_become_pending_with_the_reason() -> None:
    schedules = {
        "low": Schedule(job="low", placements={0: "n1", 1: "n1", 2: "n2"}, versions={1: 3})
    }
    victims = [victim("low", 1, "n1", 10, 256), victim("low", 2, "n2", 10, 256)]
    changed = preempted_schedules(victims, schedules, "big", 80)
    assert changed["low"].placements == {0: "n1"}
    assert changed["low"].pending == {
        1: "preempted by big (priority 80)",
        2: "preempted by big (priority 80)",
    }
    assert changed["low"].versions == {}


def test_a_system_job_preempts_on_each_full_node_only_what_it_needs_there() -> None:
    view = ClusterView([node("full", 512, 512), node("roomy", 512, 0), node("packed", 512, 512)])
    instances = [
        victim("low", 0, "full", 10, 128),
        victim("low", 1, "full", 10, 128),
        victim("low", 2, "full", 10, 256),
        victim("low", 3, "packed", 10, 512),
    ]
    result = plan_system_with_preemption(request(1, 200), None, view, instances)
    assert isinstance(result, PreemptingPlan)
    # One 256M instance frees "full" (fewest first); "packed" gives its only one; "roomy" none.
    assert sorted(f"{v.job}-{v.index}" for v in result.victims) == ["low-2", "low-3"]
    plan = result.plan
    assert set(plan.schedule.placements.values()) == {"full", "roomy", "packed"}
    assert plan.schedule.pending == {}
    assert plan.allocation_delta["full"] == Resources(memory=(200 - 256) * M)
    assert plan.allocation_delta["packed"] == Resources(memory=(200 - 512) * M)


def test_a_system_job_without_victims_enough_stays_pending_on_that_node() -> None:
    view = ClusterView([node("full", 512, 512), node("roomy", 512, 0)])
    # Only 100M could be freed on "full": not enough for 200M, so nothing is stopped there.
    result = plan_system_with_preemption(
        request(1, 200), None, view, [victim("low", 0, "full", 10, 100)]
    )
    assert isinstance(result, PlanResult)
    assert list(result.schedule.placements.values()) == ["roomy"]
    [reason] = result.schedule.pending.values()
    assert reason.startswith("node full: ")
