"""CPU in placement: a container's `cpus` counts against the node's cores, as memory does."""

import os
from pathlib import Path

import pytest

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.node_config import NodeConfig, default_capacity
from ozymandias.scheduling import (
    ClusterView,
    NodeView,
    PlacementRequest,
    PlanResult,
    plan_all_or_nothing,
    plan_as_many_as_fit,
    request_from_spec,
)
from ozymandias.scheduling.rankers import BinPack
from ozymandias.scheduling.view import Candidate
from ozymandias.spec.loader import load_job
from ozymandias.spec.sizes import format_cpu
from tests.support.placement import planned, rejected

G = 1024**3


def node(name: str, cores: float = 4, used: float = 0, memory: int = 64) -> NodeView:
    """A node with `cores` CPUs, `used` of them allocated, and plenty of memory and disk."""
    return NodeView(
        name=name,
        labels={},
        capacity_memory=memory * G,
        capacity_disk=100 * G,
        free_memory=memory * G,
        free_disk=100 * G,
        capacity_cpu=round(cores * 1000),
        free_cpu=round((cores - used) * 1000),
    )


def request(count: int = 1, cores: float = 1, memory: int = 1) -> PlacementRequest:
    return PlacementRequest(
        job="web", count=count, memory=memory * G, disk=0, cpu=round(cores * 1000)
    )


@pytest.mark.parametrize(
    ("capacity", "used", "pod", "fits"),
    [
        pytest.param(4, 0, 4, True, id="exactly fills an empty node"),
        pytest.param(4, 0, 4.5, False, id="more cores than the node has"),
        pytest.param(4, 3.5, 0.5, True, id="exactly fills what is left"),
        pytest.param(4, 3.5, 0.51, False, id="more than what is left"),
        pytest.param(0, 0, 0.01, False, id="a node that offers no CPU takes no CPU job"),
    ],
)
def test_cpu_must_fit(capacity: float, used: float, pod: float, fits: bool) -> None:
    view = ClusterView([node("a", capacity, used)])
    result = plan_all_or_nothing(request(cores=pod), None, view)
    assert isinstance(result, PlanResult) == fits
    if not fits:
        assert rejected(result).kind == "insufficient-cpu"
        assert rejected(result).title == "Insufficient CPU for job"


def test_a_job_without_cpus_fits_a_node_whose_cores_are_all_allocated() -> None:
    """No `cpus` means no quota, so it takes none of the node's cores (a Kubernetes pod
    without requests); a node record from before CPU was counted (0 cores) takes it too."""
    view = ClusterView([node("full", 2, used=2), node("old", 0)])
    result = planned(plan_all_or_nothing(request(count=2, cores=0), None, view))
    assert sorted(name for _, name in result.assignments) == ["full", "old"]
    assert all(change.cpu == 0 for change in result.allocation_delta.values())


def test_the_rejection_says_how_many_cores_it_needs_and_how_many_there_are() -> None:
    view = ClusterView([node("a", 2), node("b", 2, used=1.5)])
    rejection = rejected(plan_all_or_nothing(request(count=3, cores=1), None, view))
    assert rejection.detail == (
        "Job requires 3 cores of cpu (3 × 1 core) but only 2 cores can be allocated "
        "(2 instances fit; 2.5 cores free on 2 nodes)"
    )
    assert rejection.metrics.nodes_exhausted == {"cpu": 2}
    assert rejection.metrics.instances_fitting == 2


def test_memory_and_cpu_short_together_are_both_told_and_memory_gives_the_kind() -> None:
    view = ClusterView([node("a", cores=1, memory=1)])
    rejection = rejected(plan_all_or_nothing(request(count=1, cores=2, memory=2), None, view))
    assert rejection.kind == "insufficient-memory"
    assert rejection.detail == (
        "Job requires 2G of memory (1 × 2G) but no instance fits (1G free on 1 node); "
        "2 cores of cpu (1 × 2 cores) but no instance fits (1 core free on 1 node)"
    )
    assert rejection.metrics.nodes_exhausted == {"cpu": 1, "memory": 1}


def test_memory_on_one_node_and_cpu_on_another_is_no_room() -> None:
    view = ClusterView([node("cores", cores=8, memory=1), node("ram", cores=0.5, memory=8)])
    rejection = rejected(plan_all_or_nothing(request(count=1, cores=1, memory=2), None, view))
    assert rejection.kind == "insufficient-memory"
    assert rejection.detail == (
        "Job requires 2G of memory (1 × 2G) but no instance fits: "
        "no node has 2G of memory and 1 core of cpu free"
    )


def test_the_allocation_delta_and_the_view_count_cpu() -> None:
    view = ClusterView([node("a", 4)])
    result = planned(plan_all_or_nothing(request(count=3, cores=0.5), None, view))
    assert result.allocation_delta == {"a": Resources(memory=3 * G, disk=0, cpu=1500)}
    view.apply(result.allocation_delta)
    a = view.get("a")
    assert a is not None and a.free_cpu == 2500 and a.allocated.cpu == 1500


def test_a_pending_instance_names_the_cpu_it_lacks() -> None:
    view = ClusterView([node("a", 1)])
    result = plan_as_many_as_fit(request(count=2, cores=1), None, view)
    assert list(result.schedule.placements.values()) == ["a"]
    [reason] = result.schedule.pending.values()
    assert reason.startswith("Job requires 1 core of cpu (1 × 1 core) but no instance fits")


def test_more_cpus_per_instance_displaces_instances_that_no_longer_fit() -> None:
    view = ClusterView([node("a", 2, used=2), node("b", 2)])
    before = Schedule(job="web", placements={0: "a", 1: "a"})
    grown = planned(
        plan_all_or_nothing(
            request(count=2, cores=1.5), before, view, previous_pod=request(cores=1).pod
        )
    )
    assert grown.schedule.placements == {0: "a", 1: "b"}
    assert grown.allocation_delta == {
        "a": Resources(memory=-G, cpu=-500),  # two 1-core instances out, one of 1.5 in
        "b": Resources(memory=G, cpu=1500),
    }


def test_bin_packing_prefers_the_node_with_less_cpu_left_for_a_cpu_job() -> None:
    busy, idle = node("busy", 4, used=3), node("idle", 4)
    binpack = BinPack(memory=G, disk=0, cpu=1000)

    def score(view: NodeView) -> float:
        return binpack.score(Candidate(view, view.free_memory, view.free_disk, 0, view.free_cpu))

    assert score(busy) > score(idle)
    # A job that asks for no CPU is packed by memory and disk alone.
    no_cpu = BinPack(memory=G, disk=0)
    assert no_cpu.score(Candidate(busy, busy.free_memory, busy.free_disk, 0, busy.free_cpu)) == (
        no_cpu.score(Candidate(idle, idle.free_memory, idle.free_disk, 0, idle.free_cpu))
    )


def test_cpu_packs_instances_onto_the_fuller_node() -> None:
    view = ClusterView([node("busy", 4, used=2), node("idle", 4)])
    result = planned(plan_all_or_nothing(request(count=1, cores=1), None, view))
    assert result.schedule.placements == {0: "busy"}


@pytest.mark.parametrize(
    ("cpus", "millicores"),
    [
        ("", 0),
        ("cpus: 0.5", 500),
        ("cpus: 2", 2000),
        ("cpus: 0.3333", 334),  # rounded up: a quota is never counted as less than it is
        ("cpus: 0.01", 10),
    ],
)
def test_a_pods_cpu_is_its_containers_cpus_in_millicores(cpus: str, millicores: int) -> None:
    fields = f", {cpus}" if cpus else ""
    spec = load_job(
        f"name: web\nnumInstances: 1\ncontainers:\n  a: {{image: x{fields}}}\n  b: {{image: y}}\n"
    )
    assert spec.pod_cpu == millicores
    assert request_from_spec(spec).cpu == millicores


def test_containers_cpus_add_up() -> None:
    spec = load_job(
        "name: web\nnumInstances: 1\ncontainers:\n"
        "  a: {image: x, cpus: 0.25}\n  b: {image: y, cpus: 1.5}\n"
    )
    assert spec.pod_cpu == 1750


@pytest.mark.parametrize(
    ("millicores", "text"),
    [
        (0, "0 cores"),
        (1000, "1 core"),
        (2500, "2.5 cores"),
        (10, "0.01 cores"),
        (333, "0.333 cores"),
    ],
)
def test_format_cpu(millicores: int, text: str) -> None:
    assert format_cpu(millicores) == text


def test_a_node_offers_every_core_unless_told(tmp_path: Path) -> None:
    every = default_capacity(NodeConfig(name="n", data_dir=tmp_path, memory=G, disk=G))
    assert every.cpu == (os.cpu_count() or 1) * 1000
    told = default_capacity(NodeConfig(name="n", data_dir=tmp_path, memory=G, disk=G, cpus=1.5))
    assert told.cpu == 1500


def test_resources_recorded_before_cpu_was_counted_read_as_no_cpu() -> None:
    assert Resources.from_json('{"memory": 1, "disk": 2}') == Resources(memory=1, disk=2, cpu=0)
