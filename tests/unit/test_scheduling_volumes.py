"""Placement of jobs with shared volumes: one storage domain per job, set by its first placement."""

from dataclasses import replace

import pytest

from ozymandias.cluster.records import Node, Resources, Schedule, SharedStorage, SharedVolume
from ozymandias.scheduling import (
    ClusterView,
    NodeView,
    PlacementRequest,
    plan_all_or_nothing,
    plan_as_many_as_fit,
    request_from_spec,
)
from ozymandias.scheduling.request import SharedVolumeNeed
from ozymandias.spec.models import JobSpec
from tests.support.placement import planned, rejected

G = 1024**3


def node(
    name: str, zone: str | None, memory: int = 4, used_memory: int = 0, storage: bool = True
) -> NodeView:
    """A node with memory in G and, unless told otherwise, shared storage in its zone."""
    domain = (f"zone={zone}" if zone is not None else f"node={name}") if storage else None
    return NodeView(
        name=name,
        labels={"zone": zone} if zone is not None else {},
        capacity_memory=memory * G,
        capacity_disk=100 * G,
        free_memory=(memory - used_memory) * G,
        free_disk=100 * G,
        storage_domain=domain,
    )


def view(*nodes: NodeView, free: dict[str, int] | None = None) -> ClusterView:
    """The nodes, with 10G of shared storage free in each of their domains unless told."""
    domains = {n.storage_domain for n in nodes if n.storage_domain is not None}
    return ClusterView(nodes, free if free is not None else dict.fromkeys(domains, 10 * G))


def request(count: int, *volumes: SharedVolumeNeed, memory: int = 1) -> PlacementRequest:
    return PlacementRequest(
        job="web",
        count=count,
        memory=memory * G,
        disk=0,
        shared_volumes=volumes or (SharedVolumeNeed("data", 1 * G),),
    )


def test_new_volumes_go_where_the_first_instance_goes_and_the_rest_follow() -> None:
    # b1 is fuller, so bin packing puts the first instance there; the others follow to zone b
    # even though zone a has more room.
    cluster = view(
        node("a1", "a"), node("a2", "a"), node("b1", "b", used_memory=1), node("b2", "b")
    )
    result = planned(plan_all_or_nothing(request(4), None, cluster))
    assert {name for _, name in result.assignments} <= {"b1", "b2"}
    assert result.shared_volume_domain == "zone=b"
    assert result.shared_allocation_delta == {"zone=b": 1 * G}


def test_existing_volumes_pin_the_job_to_their_zone() -> None:
    cluster = view(node("a1", "a"), node("b1", "b", used_memory=1))
    result = planned(
        plan_all_or_nothing(request(2, SharedVolumeNeed("data", G, "zone=a", G)), None, cluster)
    )
    assert [name for _, name in result.assignments] == ["a1", "a1"]
    assert result.shared_allocation_delta == {}  # the volume exists and keeps its size


def test_a_full_volume_zone_is_a_topology_conflict_naming_the_zone() -> None:
    cluster = view(node("a1", "a", memory=2), node("b1", "b", memory=8))
    rejection = rejected(
        plan_all_or_nothing(request(4, SharedVolumeNeed("data", G, "zone=a", G)), None, cluster)
    )
    assert rejection.kind == "volume-topology-conflict"
    assert "shared volumes (data) are in zone a" in rejection.detail
    assert "zone a cannot take its instances" in rejection.detail


def test_a_cluster_too_small_anyway_is_plain_insufficient_memory() -> None:
    cluster = view(node("a1", "a", memory=2), node("b1", "b", memory=1))
    rejection = rejected(
        plan_all_or_nothing(request(4, SharedVolumeNeed("data", G, "zone=a", G)), None, cluster)
    )
    assert rejection.kind == "insufficient-memory"


def test_new_volumes_try_the_next_zone_when_the_preferred_one_is_too_small() -> None:
    # a1 is the fuller node, so zone a is preferred, but only zone b holds all three.
    cluster = view(node("a1", "a", memory=2, used_memory=1), node("b1", "b", memory=8))
    result = planned(plan_all_or_nothing(request(3), None, cluster))
    assert [name for _, name in result.assignments] == ["b1"] * 3
    assert result.shared_volume_domain == "zone=b"


def test_no_single_zone_holding_every_instance_is_a_topology_conflict() -> None:
    cluster = view(node("a1", "a", memory=2), node("b1", "b", memory=2))
    rejection = rejected(plan_all_or_nothing(request(3), None, cluster))
    assert rejection.kind == "volume-topology-conflict"
    assert "No single zone can hold all 3 instances" in rejection.detail


def test_zones_without_room_for_the_volumes_are_skipped() -> None:
    cluster = view(node("a1", "a", used_memory=1), node("b1", "b"), free={"zone=a": 0, "zone=b": G})
    result = planned(plan_all_or_nothing(request(1), None, cluster))
    assert result.shared_volume_domain == "zone=b"


def test_no_zone_with_room_for_the_volumes_is_insufficient_disk() -> None:
    cluster = view(node("a1", "a"), node("b1", "b"), free={"zone=a": G // 2, "zone=b": G // 4})
    rejection = rejected(plan_all_or_nothing(request(1), None, cluster))
    assert rejection.kind == "insufficient-disk"
    assert rejection.detail == (
        "Job requires 1G of shared storage but only 512M is free (in zone a)"
    )


def test_nodes_without_shared_storage_cannot_take_the_job() -> None:
    cluster = view(node("a1", "a", storage=False), node("b1", "b", storage=False))
    rejection = rejected(plan_all_or_nothing(request(1), None, cluster))
    assert rejection.kind == "unsatisfiable-constraints"
    assert "no node matches shared storage" in rejection.detail
    assert "2 nodes have no shared storage" in rejection.detail


def test_a_zoneless_node_is_a_domain_of_its_own() -> None:
    cluster = view(node("solo", None), node("other", None, used_memory=1))
    result = planned(plan_all_or_nothing(request(2), None, cluster))
    assert {name for _, name in result.assignments} == {"other"}
    assert result.shared_volume_domain == "node=other"


def test_growing_a_volume_needs_room_for_the_growth_only() -> None:
    cluster = view(node("a1", "a"), free={"zone=a": G})
    grown = SharedVolumeNeed("data", 2 * G, "zone=a", 1 * G)
    assert planned(
        plan_all_or_nothing(request(1, grown), None, cluster)
    ).shared_allocation_delta == {"zone=a": G}
    too_big = replace(grown, size=3 * G)
    assert rejected(plan_all_or_nothing(request(1, too_big), None, cluster)).kind == (
        "insufficient-disk"
    )


def test_replacement_stays_in_the_volume_zone_and_leaves_the_rest_pending() -> None:
    cluster = view(node("a2", "a", memory=1), node("b1", "b", memory=8))
    before = Schedule(job="web", placements={0: "a1", 1: "a1"})  # a1 died
    result = plan_as_many_as_fit(
        request(2, SharedVolumeNeed("data", G, "zone=a", G)), before, cluster
    )
    assert result.schedule.placements == {0: "a2"}
    assert list(result.schedule.pending) == [1]


def test_view_from_records_takes_the_smallest_declared_capacity_per_zone() -> None:
    def registered(name: str, zone: str, capacity: int | None) -> Node:
        return Node(
            name=name,
            address="10.0.0.1",
            api_url="http://10.0.0.1:7070",
            labels={"zone": zone},
            capacity=Resources(memory=G, disk=G),
            started_at=0.0,
            shared_storage=SharedStorage(capacity=capacity) if capacity is not None else None,
        )

    cluster = ClusterView.from_records(
        [registered("a1", "a", 10 * G), registered("a2", "a", 8 * G), registered("b1", "b", None)],
        {},
        shared_allocated={"zone=a": 3 * G},
    )
    assert cluster.shared_free == {"zone=a": 5 * G}
    assert [n.storage_domain for n in cluster] == ["zone=a", "zone=a", None]


@pytest.mark.parametrize("exists", [False, True])
def test_request_from_spec_carries_the_shared_volumes(exists: bool) -> None:
    spec = JobSpec.model_validate(
        {
            "name": "web",
            "containers": {
                "app": {
                    "image": "x",
                    "volumes": [
                        {"type": "shared", "path": "/s", "space": "1G"},
                        {"type": "local", "path": "/l", "space": "100M"},
                    ],
                }
            },
        }
    )
    volumes = (
        {"s": SharedVolume(job="web", name="s", size=G // 2, domain="zone=a")} if exists else {}
    )
    placement = request_from_spec(spec, volumes)
    expected = SharedVolumeNeed("s", G, "zone=a", G // 2) if exists else SharedVolumeNeed("s", G)
    assert placement.shared_volumes == (expected,)
    assert placement.disk == 100 * 1024**2


def test_a_job_with_no_instances_creates_no_volumes() -> None:
    result = planned(plan_all_or_nothing(request(0), None, view(node("a1", "a"))))
    assert (result.shared_volume_domain, result.shared_allocation_delta) == (None, {})


def test_a_volume_zone_without_live_nodes_is_named_not_called_full() -> None:
    grown = SharedVolumeNeed("data", 2 * G, "zone=gone", 1 * G)
    rejection = rejected(plan_all_or_nothing(request(1, grown), None, view(node("b1", "b"))))
    assert rejection.kind == "volume-topology-conflict"
    assert "no node matches shared storage in zone gone: 1 node is in zone b" in rejection.detail
