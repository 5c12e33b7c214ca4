"""Rebalance planning (pure): moves from the most to the least allocated nodes, up to the mean."""

from __future__ import annotations

from collections import Counter

import pytest

from ozymandias.cluster.records import Resources
from ozymandias.scheduling import ClusterView, LabelExpression, NodeView, PlacementRequest
from ozymandias.scheduling.filters import constraint_filters
from ozymandias.scheduling.rebalance import MovableJob, Move, RebalancePlan, plan_rebalance

G = 1024**3


def node(
    name: str, memory: int = 6, used: int = 0, zone: str = "a", cordoned: bool = False
) -> NodeView:
    return NodeView(
        name=name,
        labels={"zone": zone},
        capacity_memory=memory * G,
        capacity_disk=100 * G,
        free_memory=(memory - used) * G,
        free_disk=100 * G,
        cordoned=cordoned,
    )


def job(name: str, placements: dict[int, str], memory: int = 1, zone: str = "") -> MovableJob:
    affinity = (LabelExpression("zone", "In", (zone,)),) if zone else ()
    request = PlacementRequest(job=name, count=len(placements), memory=memory * G, disk=0,
                               affinity=affinity)  # fmt: skip
    return MovableJob(name, request.pod, constraint_filters(request), placements)


def per_node(plan: RebalancePlan) -> dict[str, int]:
    """Each node's allocated memory after the plan, in G."""
    return {name: resources.memory // G for name, resources in plan.after.items()}


def test_two_full_nodes_and_a_new_one_end_at_two_each_with_each_job_spread() -> None:
    """The issue's end-to-end case: 2 hosts with 6 instances of 2 jobs, then a third."""
    jobs = [
        job("web", {0: "h1", 1: "h2", 2: "h1"}),
        job("api", {0: "h2", 1: "h1", 2: "h2"}),
    ]
    view = ClusterView([node("h1", used=3), node("h2", used=3), node("h3")])
    plan = plan_rebalance(view, jobs)
    assert per_node(plan) == {"h1": 2, "h2": 2, "h3": 2}
    assert len(plan.moves) == 2
    assert all(move.target == "h3" for move in plan.moves)
    # One of each job: the new node does not end with two of one job.
    assert Counter(move.job for move in plan.moves) == {"web": 1, "api": 1}
    assert plan.before["h3"] == Resources()


def test_an_already_balanced_cluster_gets_no_moves() -> None:
    jobs = [job("web", {0: "h1", 1: "h2", 2: "h3"})]
    view = ClusterView([node("h1", used=1), node("h2", used=1), node("h3", used=1)])
    plan = plan_rebalance(view, jobs)
    assert plan.moves == []
    assert plan.after == plan.before


def test_a_new_node_takes_instances_only_up_to_the_mean() -> None:
    jobs = [job(f"j{i}", {0: "old"}) for i in range(4)]
    view = ClusterView([node("old", memory=8, used=4), node("new", memory=8)])
    plan = plan_rebalance(view, jobs)
    assert per_node(plan) == {"old": 2, "new": 2}


def test_constraints_keep_an_instance_in_its_zone() -> None:
    jobs = [
        job("pinned", {0: "a1", 1: "a1", 2: "a1"}, zone="a"),
        job("free", {0: "a1"}),
    ]
    view = ClusterView([node("a1", used=4), node("b1", zone="b")])
    plan = plan_rebalance(view, jobs)
    assert plan.moves == [Move("free", 0, "a1", "b1")]


def test_jobs_not_given_stay_but_count() -> None:
    """A system job, a job with local volumes or one mid-deployment is not passed in: its
    instances stay, and its memory still counts on its node."""
    jobs = [job("web", {0: "h1"})]
    view = ClusterView([node("h1", used=4), node("h2", used=2)])
    plan = plan_rebalance(view, jobs)
    assert plan.moves == [Move("web", 0, "h1", "h2")]
    assert per_node(plan) == {"h1": 3, "h2": 3}


def test_cordoned_nodes_take_no_part() -> None:
    jobs = [job("web", {0: "h1", 1: "h1"})]
    view = ClusterView([node("h1", used=2), node("h2", cordoned=True)])
    assert plan_rebalance(view, jobs).moves == []


def test_a_move_that_would_overshoot_is_not_made() -> None:
    """One 4G instance on a 6G node and an empty 6G node: moving it only swaps the two."""
    jobs = [job("big", {0: "h1"}, memory=4)]
    view = ClusterView([node("h1", used=4), node("h2")])
    assert plan_rebalance(view, jobs).moves == []


def test_a_tolerance_leaves_nearly_even_nodes_alone() -> None:
    jobs = [job(f"j{i}", {0: "h1"}) for i in range(4)]
    view = ClusterView([node("h1", memory=10, used=4), node("h2", memory=10, used=2)])
    assert plan_rebalance(view, jobs, tolerance=0.2).moves == []
    assert len(plan_rebalance(view, jobs).moves) == 1


def test_cpu_counts_as_the_dominant_share() -> None:
    """Memory is even, CPU is not: the CPU-heavy node gives an instance away."""
    cpu_job = MovableJob("cpu", Resources(memory=G, cpu=1000), (), {0: "h1", 1: "h1"})
    view = ClusterView(
        [
            NodeView("h1", {}, 6 * G, 0, 4 * G, 0, capacity_cpu=2000, free_cpu=0),
            NodeView("h2", {}, 6 * G, 0, 4 * G, 0, capacity_cpu=2000, free_cpu=2000),
        ]
    )
    plan = plan_rebalance(view, [cpu_job])
    assert plan.moves == [Move("cpu", 1, "h1", "h2")]


@pytest.mark.parametrize(
    ("used", "bound"),
    [
        ((6, 6, 0), 3),  # mean 4G: the new node is 4G short; less one 1G pod, 3 moves
        ((2, 2, 2), 0),
    ],
)
def test_the_lower_bound_counts_the_shortfall_in_largest_pods(
    used: tuple[int, int, int], bound: int
) -> None:
    jobs = [job(f"j{i}", {0: "h1"}, memory=1) for i in range(used[0])] + [
        job(f"k{i}", {0: "h2"}, memory=1) for i in range(used[1])
    ]
    nodes = [node(f"h{i + 1}", memory=8, used=u) for i, u in enumerate(used)]
    plan = plan_rebalance(ClusterView(nodes), jobs)
    assert plan.lower_bound == bound
    assert plan.lower_bound <= len(plan.moves) <= plan.lower_bound + 1
