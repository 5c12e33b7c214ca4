"""The invariant checker that integration and race tests run over data read from etcd."""

import pytest

from ozymandias.cluster.records import Resources, Schedule
from ozymandias.scheduling import check_invariants

POD = Resources(memory=2, disk=1)
CAPACITY = {"a": Resources(memory=4, disk=4), "b": Resources(memory=4, disk=4)}


@pytest.mark.parametrize(
    ("allocations", "placements", "pending", "pods", "violations"),
    [
        pytest.param(
            {"a": Resources(memory=4, disk=2), "b": Resources(memory=2, disk=1)},
            {0: "a", 1: "a", 2: "b"},
            {},
            {"web": POD},
            [],
            id="consistent",
        ),
        pytest.param({}, {}, {}, {"web": POD}, [], id="empty"),
        pytest.param(
            {"a": Resources(memory=6, disk=3)},
            {0: "a", 1: "a", 2: "a"},
            {},
            {"web": POD},
            [
                "node a has 6 bytes of memory and 3 bytes of disk allocated, "
                "over its capacity 4 bytes of memory and 4 bytes of disk"
            ],
            id="over capacity",
        ),
        pytest.param(
            {"a": Resources(memory=2, disk=1)},
            {0: "a", 1: "a"},
            {},
            {"web": POD},
            [
                "node a records 2 bytes of memory and 1 bytes of disk allocated "
                "but its placements add up to 4 bytes of memory and 2 bytes of disk"
            ],
            id="total below placements",
        ),
        pytest.param(
            {"b": Resources(memory=2, disk=1)},
            {},
            {},
            {"web": POD},
            [
                "node b records 2 bytes of memory and 1 bytes of disk allocated "
                "but its placements add up to 0 bytes of memory and 0 bytes of disk"
            ],
            id="leftover allocation",
        ),
        pytest.param(
            {"gone": Resources(memory=2, disk=1)},
            {0: "gone"},
            {},
            {"web": POD},
            ["web-0 is placed on unknown node gone"],
            id="unknown node",
        ),
        pytest.param(
            {"a": Resources(memory=2, disk=1)},
            {0: "a"},
            {0: "no room"},
            {"web": POD},
            ["web-0 is both placed and pending"],
            id="placed and pending",
        ),
        pytest.param(
            {},
            {0: "a"},
            {},
            {},
            ["job web has a schedule but no known pod size"],
            id="unknown pod size",
        ),
    ],
)
def test_check_invariants(
    allocations: dict[str, Resources],
    placements: dict[int, str],
    pending: dict[int, str],
    pods: dict[str, Resources],
    violations: list[str],
) -> None:
    schedule = Schedule(job="web", placements=placements, pending=pending)
    assert check_invariants(CAPACITY, allocations, [schedule], pods) == violations
