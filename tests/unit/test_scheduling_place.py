"""Placement: filters, rankers, the two planning modes and how rejections read."""

import itertools
from typing import Any

import pytest

from ozymandias.cluster.records import Node, Resources, Schedule
from ozymandias.scheduling import (
    ClusterView,
    LabelExpression,
    NodeView,
    PlacementRequest,
    PlanResult,
    plan_all_or_nothing,
    plan_as_many_as_fit,
    request_from_spec,
    usage_by_node,
)
from ozymandias.scheduling.filters import constraint_filters
from ozymandias.spec.models import JobSpec
from tests.support.placement import planned, rejected

G = 1024**3


def node(
    name: str,
    memory: int = 8,
    disk: int = 100,
    *,
    used_memory: int = 0,
    used_disk: int = 0,
    labels: dict[str, str] | None = None,
    alive: bool = True,
    cordoned: bool = False,
) -> NodeView:
    """A node with sizes in G."""
    return NodeView(
        name=name,
        labels=labels or {},
        capacity_memory=memory * G,
        capacity_disk=disk * G,
        free_memory=(memory - used_memory) * G,
        free_disk=(disk - used_disk) * G,
        alive=alive,
        cordoned=cordoned,
    )


def request(
    count: int = 1, memory: int = 1, disk: int = 1, job: str = "web", **constraints: Any
) -> PlacementRequest:
    """A request with pod sizes in G."""
    return PlacementRequest(job=job, count=count, memory=memory * G, disk=disk * G, **constraints)


def nodes_used(result: PlanResult) -> list[str]:
    return [name for _, name in result.assignments]


# --- resources ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "used", "pod", "fits"),
    [
        pytest.param(8, 0, 8, True, id="exactly fills an empty node"),
        pytest.param(8, 0, 9, False, id="bigger than the node"),
        pytest.param(8, 5, 3, True, id="exactly fills what is left"),
        pytest.param(8, 5, 4, False, id="more than what is left"),
    ],
)
def test_memory_must_fit(capacity: int, used: int, pod: int, fits: bool) -> None:
    view = ClusterView([node("a", memory=capacity, used_memory=used)])
    result = plan_all_or_nothing(request(memory=pod), None, view)
    assert isinstance(result, PlanResult) == fits
    if not fits:
        assert rejected(result).kind == "insufficient-memory"


@pytest.mark.parametrize(
    ("capacity", "used", "pod", "fits"),
    [
        pytest.param(100, 0, 100, True, id="exactly fills an empty node"),
        pytest.param(100, 0, 101, False, id="bigger than the node"),
        pytest.param(100, 90, 10, True, id="exactly fills what is left"),
        pytest.param(100, 90, 11, False, id="more than what is left"),
    ],
)
def test_disk_must_fit(capacity: int, used: int, pod: int, fits: bool) -> None:
    view = ClusterView([node("a", disk=capacity, used_disk=used)])
    result = plan_all_or_nothing(request(disk=pod), None, view)
    assert isinstance(result, PlanResult) == fits
    if not fits:
        assert rejected(result).kind == "insufficient-disk"


def test_a_pod_needing_no_disk_fits_a_node_without_disk() -> None:
    view = ClusterView([node("a", disk=0)])
    assert nodes_used(planned(plan_all_or_nothing(request(disk=0), None, view))) == ["a"]


# --- constraints -------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraints", "eligible"),
    [
        pytest.param({}, ["a", "b", "c"], id="no constraints"),
        pytest.param({"may_be_scheduled_on": ("b",)}, ["b"], id="mayBeScheduledOn one"),
        pytest.param({"may_be_scheduled_on": ("a", "c")}, ["a", "c"], id="mayBeScheduledOn two"),
        pytest.param({"may_be_scheduled_on": ()}, [], id="mayBeScheduledOn empty"),
        pytest.param({"cannot_be_scheduled_on": ("a",)}, ["b", "c"], id="cannotBeScheduledOn"),
        pytest.param(
            {"may_be_scheduled_on": ("a", "b"), "cannot_be_scheduled_on": ("a",)},
            ["b"],
            id="both lists",
        ),
    ],
)
def test_node_name_constraints(constraints: dict[str, Any], eligible: list[str]) -> None:
    view = ClusterView([node("a"), node("b"), node("c")])
    result = plan_all_or_nothing(request(count=3, **constraints), None, view)
    if eligible:
        assert set(nodes_used(planned(result))) == set(eligible)
    else:
        assert rejected(result).kind == "unsatisfiable-constraints"


@pytest.mark.parametrize(
    ("labels", "expression", "passes"),
    [
        ({"zone": "a"}, LabelExpression("zone", "In", ("a", "b")), True),
        ({"zone": "c"}, LabelExpression("zone", "In", ("a", "b")), False),
        ({}, LabelExpression("zone", "In", ("a",)), False),
        ({"zone": "a"}, LabelExpression("zone", "NotIn", ("a",)), False),
        ({"zone": "c"}, LabelExpression("zone", "NotIn", ("a", "b")), True),
        ({}, LabelExpression("zone", "NotIn", ("a",)), True),
        ({"gpu": "yes"}, LabelExpression("gpu", "Exists"), True),
        ({"gpu": ""}, LabelExpression("gpu", "Exists"), True),
        ({"zone": "a"}, LabelExpression("gpu", "Exists"), False),
        ({"gpu": "yes"}, LabelExpression("gpu", "DoesNotExist"), False),
        ({"zone": "a"}, LabelExpression("gpu", "DoesNotExist"), True),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else None,
)
def test_affinity_operators(
    labels: dict[str, str], expression: LabelExpression, passes: bool
) -> None:
    (only,) = constraint_filters(request(affinity=(expression,)))
    assert only.passes(node("n", labels=labels)) == passes


@pytest.mark.parametrize(
    ("labels", "selector", "passes"),
    [
        ({"zone": "a"}, {"zone": "a"}, True),
        ({"zone": "b"}, {"zone": "a"}, False),
        ({}, {"zone": "a"}, False),
        ({"zone": "a", "disk": "ssd"}, {"zone": "a", "disk": "ssd"}, True),
        ({"zone": "a", "disk": "hdd"}, {"zone": "a", "disk": "ssd"}, False),
    ],
)
def test_node_selector(labels: dict[str, str], selector: dict[str, str], passes: bool) -> None:
    filters = constraint_filters(request(node_selector=selector))
    assert all(f.passes(node("n", labels=labels)) for f in filters) == passes


def test_affinity_places_only_on_matching_nodes() -> None:
    view = ClusterView(
        [
            node("a", labels={"zone": "x"}),
            node("b", labels={"zone": "y"}),
            node("c", labels={"zone": "y", "gpu": "1"}),
            node("d", labels={"zone": "y"}),
        ]
    )
    result = planned(
        plan_all_or_nothing(
            request(
                count=4,
                affinity=(
                    LabelExpression("zone", "In", ("y",)),
                    LabelExpression("gpu", "DoesNotExist"),
                ),
            ),
            None,
            view,
        )
    )
    assert set(nodes_used(result)) == {"b", "d"}


@pytest.mark.parametrize(
    ("alive", "cordoned", "usable"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_dead_and_cordoned_nodes_take_no_new_instances(
    alive: bool, cordoned: bool, usable: bool
) -> None:
    view = ClusterView([node("a", alive=alive, cordoned=cordoned)])
    result = plan_all_or_nothing(request(), None, view)
    assert isinstance(result, PlanResult) == usable


def test_instances_stay_on_a_cordoned_node() -> None:
    view = ClusterView([node("a", used_memory=2, used_disk=2, cordoned=True), node("b")])
    existing = Schedule(job="web", placements={0: "a", 1: "a"})
    result = planned(plan_all_or_nothing(request(count=3), existing, view))
    assert result.schedule.placements == {0: "a", 1: "a", 2: "b"}
    assert result.placed == {2: "b"}


# --- ranking -----------------------------------------------------------------


def test_instances_spread_over_equal_nodes() -> None:
    view = ClusterView([node("a"), node("b"), node("c")])
    result = planned(plan_all_or_nothing(request(count=3), None, view))
    assert sorted(nodes_used(result)) == ["a", "b", "c"]


def test_instances_share_a_node_when_it_is_the_only_one() -> None:
    view = ClusterView([node("a")])
    result = planned(plan_all_or_nothing(request(count=3), None, view))
    assert nodes_used(result) == ["a", "a", "a"]


def test_best_fit_leaves_room_for_a_big_job() -> None:
    view = ClusterView([node("big", memory=16), node("small", memory=4)])
    small_job = planned(plan_all_or_nothing(request(memory=3, job="small"), None, view))
    assert nodes_used(small_job) == ["small"]
    view.apply(small_job.allocation_delta)
    big_job = planned(plan_all_or_nothing(request(memory=16, job="big"), None, view))
    assert nodes_used(big_job) == ["big"]


def test_best_fit_prefers_the_fuller_node() -> None:
    view = ClusterView([node("a", used_memory=1), node("b", used_memory=5), node("c")])
    assert nodes_used(planned(plan_all_or_nothing(request(), None, view))) == ["b"]


def test_disk_counts_in_best_fit() -> None:
    # Memory is equal; b's disk would end fuller.
    view = ClusterView([node("a"), node("b", used_disk=80), node("c", used_disk=10)])
    assert nodes_used(planned(plan_all_or_nothing(request(disk=10), None, view))) == ["b"]


@pytest.mark.parametrize("order", list(itertools.permutations(["c", "a", "b"])))
def test_ties_go_to_the_first_node_by_name(order: tuple[str, ...]) -> None:
    view = ClusterView([node(name) for name in order])
    result = planned(plan_all_or_nothing(request(count=2), None, view))
    assert result.assignments == [(0, "a"), (1, "b")]


# --- scaling, changes and the allocation delta -------------------------------


def test_scale_up_keeps_existing_instances_and_adds_the_delta() -> None:
    view = ClusterView([node("a", used_memory=1, used_disk=1), node("b")])
    existing = Schedule(job="web", placements={0: "a"})
    result = planned(plan_all_or_nothing(request(count=2), existing, view))
    assert result.schedule.placements == {0: "a", 1: "b"}
    assert result.placed == {1: "b"}
    assert result.stopped == []
    assert result.allocation_delta == {"b": Resources(memory=G, disk=G)}


def test_scale_down_frees_what_it_stops() -> None:
    view = ClusterView(
        [node("a", used_memory=2, used_disk=2), node("b", used_memory=1, used_disk=1)]
    )
    existing = Schedule(job="web", placements={0: "a", 1: "b", 2: "a"})
    result = planned(plan_all_or_nothing(request(count=1), existing, view))
    assert result.schedule.placements == {0: "a"}
    assert result.stopped == [1, 2]
    assert result.placed == {}
    assert result.allocation_delta == {
        "a": Resources(memory=-G, disk=-G),
        "b": Resources(memory=-G, disk=-G),
    }


def test_growing_pods_move_those_that_no_longer_fit() -> None:
    view = ClusterView([node("a", memory=4, used_memory=2, used_disk=2), node("b")])
    existing = Schedule(job="web", placements={0: "a", 1: "a"})
    result = planned(
        plan_all_or_nothing(
            request(count=2, memory=3), existing, view, previous_pod=Resources(memory=G, disk=G)
        )
    )
    assert result.schedule.placements == {0: "a", 1: "b"}
    assert result.placed == {1: "b"}
    assert result.allocation_delta == {
        "a": Resources(memory=G, disk=-G),  # two 1G pods become one 3G pod
        "b": Resources(memory=3 * G, disk=G),
    }


def test_growing_pods_beyond_the_cluster_is_rejected() -> None:
    view = ClusterView([node("a", memory=4, used_memory=2, used_disk=2)])
    existing = Schedule(job="web", placements={0: "a", 1: "a"})
    result = plan_all_or_nothing(
        request(count=2, memory=3), existing, view, previous_pod=Resources(memory=G, disk=G)
    )
    assert rejected(result).detail == (
        "Job requires 3G of memory (1 × 3G) but no instance fits (1G free on 1 node)"
    )


def test_changed_constraints_move_instances_off_nodes_that_no_longer_qualify() -> None:
    view = ClusterView(
        [
            node("a", used_memory=1, used_disk=1, labels={"zone": "x"}),
            node("b", labels={"zone": "y"}),
        ]
    )
    existing = Schedule(job="web", placements={0: "a"})
    result = planned(plan_all_or_nothing(request(node_selector={"zone": "y"}), existing, view))
    assert result.schedule.placements == {0: "b"}
    assert result.allocation_delta == {
        "a": Resources(memory=-G, disk=-G),
        "b": Resources(memory=G, disk=G),
    }


def test_a_rejected_plan_leaves_the_view_alone() -> None:
    view = ClusterView([node("a", memory=2)])
    before = [(n.free_memory, n.free_disk) for n in view]
    rejected(plan_all_or_nothing(request(count=3), None, view))
    assert [(n.free_memory, n.free_disk) for n in view] == before


def test_view_apply_updates_only_touched_nodes() -> None:
    view = ClusterView([node("a"), node("b")])
    view.apply({"a": Resources(memory=2 * G, disk=G), "gone": Resources(memory=G)})
    assert [n.allocated for n in view] == [Resources(memory=2 * G, disk=G), Resources()]


def test_view_from_records() -> None:
    capacity = Resources(memory=8 * G, disk=100 * G)
    nodes = [
        Node(name=n, address="10.0.0.1", api_url="http://x", capacity=capacity, started_at=0)
        for n in ("b", "a")
    ]
    view = ClusterView.from_records(nodes, {"a": Resources(memory=G, disk=2 * G)}, cordoned={"b"})
    assert [n.name for n in view] == ["a", "b"]
    assert [(n.free_memory, n.free_disk, n.cordoned) for n in view] == [
        (7 * G, 98 * G, False),
        (8 * G, 100 * G, True),
    ]


def test_usage_by_node() -> None:
    schedule = Schedule(job="web", placements={0: "a", 1: "b", 2: "a"}, pending={3: "no room"})
    assert usage_by_node(schedule, Resources(memory=G, disk=2 * G)) == {
        "a": Resources(memory=2 * G, disk=4 * G),
        "b": Resources(memory=G, disk=2 * G),
    }


# --- as many as fit, and lost instances --------------------------------------


def test_as_many_as_fit_leaves_the_rest_pending_with_a_reason() -> None:
    view = ClusterView([node("a", memory=3)])
    result = plan_as_many_as_fit(request(count=5), None, view)
    assert result.schedule.placements == {0: "a", 1: "a", 2: "a"}
    assert result.schedule.pending == dict.fromkeys(
        [3, 4],
        "Job requires 2G of memory (2 × 1G) but no instance fits (0B free on 1 node)",
    )
    assert result.allocation_delta == {"a": Resources(memory=3 * G, disk=3 * G)}


def test_as_many_as_fit_explains_unsatisfiable_constraints() -> None:
    view = ClusterView([node("a", labels={"zone": "x"})])
    result = plan_as_many_as_fit(request(node_selector={"zone": "y"}), None, view)
    assert result.schedule.pending == {0: "no node matches zone=y: 1 node has zone=x"}


def test_instances_on_a_dead_node_are_replaced() -> None:
    view = ClusterView([node("a", alive=False, used_memory=1, used_disk=1), node("b")])
    existing = Schedule(job="web", placements={0: "a", 1: "gone"})
    result = plan_as_many_as_fit(request(count=2), existing, view)
    assert result.schedule.placements == {0: "b", 1: "b"}
    assert result.schedule.pending == {}
    assert result.placed == {0: "b", 1: "b"}
    assert result.allocation_delta == {
        "a": Resources(memory=-G, disk=-G),
        "gone": Resources(memory=-G, disk=-G),
        "b": Resources(memory=2 * G, disk=2 * G),
    }


def test_lost_instances_never_make_a_scale_down_fail() -> None:
    view = ClusterView([node("a", used_memory=1, used_disk=1)])
    existing = Schedule(job="web", placements={0: "a", 1: "dead", 2: "dead"})
    # Instance 2 goes; instance 1 was on the dead node and finds no room: it stays pending.
    result = planned(plan_all_or_nothing(request(count=2, memory=8), existing, view))
    assert result.schedule.placements == {0: "a"}
    assert list(result.schedule.pending) == [1]
    assert result.stopped == [2]


def test_all_or_nothing_still_places_lost_instances_that_fit() -> None:
    view = ClusterView([node("a")])
    existing = Schedule(job="web", placements={0: "a"}, pending={1: "no room"})
    result = planned(plan_all_or_nothing(request(count=3), existing, view))
    assert result.schedule.placements == {0: "a", 1: "a", 2: "a"}
    assert result.schedule.pending == {}


# --- rejections ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "req", "kind", "title", "detail"),
    [
        pytest.param(
            [node("a", memory=6), node("b", memory=5)],
            request(count=6, memory=2),
            "insufficient-memory",
            "Insufficient memory for job",
            "Job requires 12G of memory (6 × 2G) but only 10G can be allocated"
            " (5 instances fit; 11G free on 2 nodes)",
            id="memory counts whole pods per node",
        ),
        pytest.param(
            [node("a", disk=25), node("b", disk=9)],
            request(count=3, disk=10),
            "insufficient-disk",
            "Insufficient disk space for job",
            "Job requires 30G of disk (3 × 10G) but only 20G can be allocated"
            " (2 instances fit; 34G free on 2 nodes)",
            id="disk counts whole pods per node",
        ),
        pytest.param(
            [node("a", memory=64, labels={"zone": "x"}), node("b", memory=2, labels={"zone": "y"})],
            request(count=2, memory=2, node_selector={"zone": "y"}),
            "insufficient-memory",
            "Insufficient memory for job",
            "Job requires 4G of memory (2 × 2G) but only 2G can be allocated"
            " (1 instance fits; 2G free on 1 node); 1 node fails zone=y",
            id="only nodes passing the constraints count",
        ),
        pytest.param(
            [node("a", memory=1, disk=1)],
            request(count=1, memory=2, disk=2),
            "insufficient-memory",
            "Insufficient memory for job",
            "Job requires 2G of memory (1 × 2G) but no instance fits (1G free on 1 node);"
            " 2G of disk (1 × 2G) but no instance fits (1G free on 1 node)",
            id="memory before disk, both told",
        ),
        pytest.param(
            [node("a", memory=21), node("b", memory=8)],
            request(count=1, memory=100),
            "insufficient-memory",
            "Insufficient memory for job",
            "Job requires 100G of memory (1 × 100G) but no instance fits"
            " (at most 21G free on any of 2 nodes)",
            id="an instance bigger than any node names the most free",
        ),
        pytest.param(
            [node("a", memory=1, labels={"zone": "b"})],
            request(count=1, memory=2, affinity=(LabelExpression("zone", "In", ("a",)),)),
            "unsatisfiable-constraints",
            "Unsatisfiable scheduling constraints for job",
            "Job requires 2G of memory (1 × 2G) but no instance fits (1G free on 1 node);"
            " no node matches zone In [a]: 1 node has zone=b",
            id="constraints before resources, both told",
        ),
        pytest.param(
            [node("a", memory=4, disk=1), node("b", memory=1, disk=10)],
            request(count=1, memory=2, disk=2),
            "insufficient-memory",
            "Insufficient memory for job",
            "Job requires 2G of memory (1 × 2G) but no instance fits:"
            " no node has 2G of memory and 2G of disk free",
            id="enough of each but not on one node",
        ),
    ],
)
def test_rejection_texts(
    nodes: list[NodeView], req: PlacementRequest, kind: str, title: str, detail: str
) -> None:
    rejection = rejected(plan_all_or_nothing(req, None, ClusterView(nodes)))
    assert (rejection.job, rejection.kind, rejection.title, rejection.detail) == (
        "web",
        kind,
        title,
        detail,
    )


def test_rejection_counts_only_the_instances_to_place() -> None:
    view = ClusterView([node("a", memory=4, used_memory=2, used_disk=2)])
    existing = Schedule(job="web", placements={0: "a", 1: "a"})
    result = plan_all_or_nothing(request(count=6), existing, view)
    assert rejected(result).detail == (
        "Job requires 4G of memory (4 × 1G) but only 2G can be allocated"
        " (2 instances fit; 2G free on 1 node)"
    )


def zones(*values: str | None) -> list[NodeView]:
    return [
        node(f"n{i}", labels={} if value is None else {"zone": value})
        for i, value in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("nodes", "constraints", "detail"),
    [
        pytest.param(
            zones("eu-west-1b", "eu-west-1b", "eu-west-1b"),
            {"affinity": (LabelExpression("zone", "In", ("eu-west-1a",)),)},
            "no node matches zone In [eu-west-1a]: 3 nodes have zone=eu-west-1b",
            id="In",
        ),
        pytest.param(
            zones("b", "c", "b", None),
            {"affinity": (LabelExpression("zone", "In", ("a", "d")),)},
            "no node matches zone In [a, d]: 2 nodes have zone=b, 1 node has zone=c, "
            "1 node has no zone label",
            id="In, several values",
        ),
        pytest.param(
            zones("a", "a"),
            {"affinity": (LabelExpression("zone", "NotIn", ("a",)),)},
            "no node matches zone NotIn [a]: 2 nodes have zone=a",
            id="NotIn",
        ),
        pytest.param(
            zones(None, None),
            {"affinity": (LabelExpression("zone", "Exists"),)},
            "no node matches zone Exists: 2 nodes have no zone label",
            id="Exists",
        ),
        pytest.param(
            zones("a"),
            {"affinity": (LabelExpression("zone", "DoesNotExist"),)},
            "no node matches zone DoesNotExist: 1 node has zone=a",
            id="DoesNotExist",
        ),
        pytest.param(
            zones("a", "b"),
            {"node_selector": {"zone": "c"}},
            "no node matches zone=c: 1 node has zone=a, 1 node has zone=b",
            id="nodeSelector",
        ),
        pytest.param(
            zones("a", "b"),
            {"may_be_scheduled_on": ("x", "y")},
            "no node matches mayBeScheduledOn [x, y]: the schedulable nodes are n0, n1",
            id="mayBeScheduledOn",
        ),
        pytest.param(
            zones("a", "b"),
            {"cannot_be_scheduled_on": ("n0", "n1")},
            "no node matches cannotBeScheduledOn [n0, n1]: "
            "it excludes every schedulable node: n0, n1",
            id="cannotBeScheduledOn",
        ),
        pytest.param(
            [node("n0", labels={"zone": "a"}), node("n1", labels={"zone": "b", "ssd": "1"})],
            {"node_selector": {"zone": "a"}, "affinity": (LabelExpression("ssd", "Exists"),)},
            "no node matches zone=a and ssd Exists: 1 node fails zone=a, 1 node fails ssd Exists",
            id="each alone passes some node, together none",
        ),
        pytest.param(
            [node("n0", cordoned=True), node("n1", alive=False), node("n2", alive=False)],
            {},
            "no node is schedulable: 1 node is cordoned, 2 nodes are down",
            id="nothing schedulable",
        ),
        pytest.param([], {}, "the cluster has no nodes", id="empty cluster"),
    ],
)
def test_unsatisfiable_constraint_texts(
    nodes: list[NodeView], constraints: dict[str, Any], detail: str
) -> None:
    rejection = rejected(plan_all_or_nothing(request(**constraints), None, ClusterView(nodes)))
    assert (rejection.kind, rejection.detail) == ("unsatisfiable-constraints", detail)


def test_constraint_texts_list_a_few_values_then_count_the_rest() -> None:
    view = ClusterView(zones(*"abcdefg", "g"))
    detail = rejected(plan_all_or_nothing(request(node_selector={"zone": "z"}), None, view)).detail
    assert detail == (
        "no node matches zone=z: 2 nodes have zone=g, 1 node has zone=a, 1 node has zone=b, "
        "1 node has zone=c, 1 node has zone=d, 2 nodes have other values"
    )


# --- the job spec -------------------------------------------------------------


def test_request_from_a_job_spec() -> None:
    spec = JobSpec.model_validate(
        {
            "name": "simple-webapp",
            "numInstances": 3,
            "containers": {
                "app": {
                    "image": "web",
                    "memory": "2G",
                    "volumes": [{"type": "local", "path": "/data/scratch", "space": "100M"}],
                },
                "db": {
                    "image": "postgres:13",
                    "memory": "4G",
                    "volumes": [{"type": "local", "path": "/var/lib/db", "space": "10G"}],
                },
            },
            "schedulingConstraints": {"mayBeScheduledOn": ["a", "b"], "cannotBeScheduledOn": ["b"]},
            "nodeSelector": {"disk": "ssd"},
            "affinity": [{"key": "zone", "operator": "In", "values": ["eu-west-1a"]}],
        }
    )
    req = request_from_spec(spec)
    assert req == PlacementRequest(
        job="simple-webapp",
        count=3,
        memory=6 * G,
        disk=10 * G + 100 * 1024**2,
        may_be_scheduled_on=("a", "b"),
        cannot_be_scheduled_on=("b",),
        node_selector={"disk": "ssd"},
        affinity=(LabelExpression("zone", "In", ("eu-west-1a",)),),
    )
    view = ClusterView(
        [
            node("a", memory=32, labels={"disk": "ssd", "zone": "eu-west-1a"}),
            node("b", memory=32, labels={"disk": "ssd", "zone": "eu-west-1a"}),
        ]
    )
    assert nodes_used(planned(plan_all_or_nothing(req, None, view))) == ["a", "a", "a"]
