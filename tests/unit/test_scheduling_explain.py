"""A rejection explains itself: every dimension that falls short, counted as Nomad's metrics."""

from typing import Any

import pytest

from ozymandias.scheduling import (
    ClusterView,
    LabelExpression,
    NodeView,
    PlacementRequest,
    plan_all_or_nothing,
    plan_as_many_as_fit,
    request_from_spec,
)
from ozymandias.scheduling.request import SharedVolumeNeed
from ozymandias.spec.models import JobSpec
from tests.support.placement import rejected

G = 1024**3
SHARED_STORAGE = "shared storage (ozy node run --shared-storage)"


def node(
    name: str,
    memory: int = 8,
    disk: int = 100,
    *,
    labels: dict[str, str] | None = None,
    alive: bool = True,
    cordoned: bool = False,
    zone: str | None = None,
) -> NodeView:
    """An empty node with sizes in G; with shared storage in `zone` if one is given."""
    return NodeView(
        name=name,
        labels=labels or {},
        capacity_memory=memory * G,
        capacity_disk=disk * G,
        free_memory=memory * G,
        free_disk=disk * G,
        alive=alive,
        cordoned=cordoned,
        storage_domain=f"zone={zone}" if zone is not None else None,
    )


def request(count: int, memory: int = 1, disk: int = 1, **constraints: Any) -> PlacementRequest:
    """A request with pod sizes in G."""
    return PlacementRequest(job="web", count=count, memory=memory * G, disk=disk * G, **constraints)


# The design post's job: 3 instances of app (2G) and db (4G), a 1G shared volume.
DESIGN_POST_JOB = request_from_spec(
    JobSpec.model_validate(
        {
            "name": "web",
            "numInstances": 3,
            "containers": {
                "app": {
                    "image": "web-app-image",
                    "memory": "2G",
                    "volumes": [
                        {"type": "shared", "path": "/data/shared", "space": "1G"},
                        {"type": "local", "path": "/data/scratch", "space": "100M"},
                    ],
                },
                "db": {
                    "image": "postgres:13",
                    "memory": "4G",
                    "volumes": [{"type": "local", "path": "/var/lib/db", "space": "10G"}],
                },
            },
        }
    )
)


def metrics(
    evaluated: int,
    filtered: dict[str, int],
    exhausted: dict[str, int],
    to_place: int,
    fitting: int,
) -> dict[str, Any]:
    return {
        "nodesEvaluated": evaluated,
        "nodesFiltered": filtered,
        "nodesExhausted": exhausted,
        "instancesToPlace": to_place,
        "instancesFitting": fitting,
    }


@pytest.mark.parametrize(
    ("nodes", "req", "kind", "detail", "placement"),
    [
        pytest.param(
            [node("n1", memory=10)],
            DESIGN_POST_JOB,
            "unsatisfiable-constraints",
            "Job requires 18G of memory (3 × 6G) but only 6G can be allocated"
            " (1 instance fits; 10G free on 1 node);"
            f" no node matches {SHARED_STORAGE}: 1 node has no shared storage",
            metrics(1, {SHARED_STORAGE: 1}, {"memory": 1}, 3, 0),
            id="the design post's job on a 10G node without shared storage: both told",
        ),
        pytest.param(
            [node("n1", memory=10, zone="a")],
            DESIGN_POST_JOB,
            "insufficient-memory",
            "Job requires 18G of memory (3 × 6G) but only 6G can be allocated"
            " (1 instance fits; 10G free on 1 node)",
            metrics(1, {}, {"memory": 1}, 3, 1),
            id="the design post's job once the node has shared storage",
        ),
        pytest.param(
            [
                node("a", labels={"zone": "x"}),
                node("b", labels={"zone": "y"}),
                node("c", memory=2, labels={"zone": "y", "ssd": "1"}),
                node("d", labels={"zone": "y", "ssd": "1"}, cordoned=True),
                node("e", labels={"zone": "y", "ssd": "1"}, alive=False),
            ],
            request(
                2,
                memory=2,
                node_selector={"zone": "y"},
                affinity=(LabelExpression("ssd", "Exists"),),
            ),
            "insufficient-memory",
            "Job requires 4G of memory (2 × 2G) but only 2G can be allocated"
            " (1 instance fits; 2G free on 1 node);"
            " 1 node fails zone=y; 2 nodes fail ssd Exists; 1 node is cordoned, 1 node is down",
            metrics(
                5, {"down": 1, "cordoned": 1, "zone=y": 1, "ssd Exists": 2}, {"memory": 1}, 2, 1
            ),
            id="filtered by several constraints, each counted",
        ),
        pytest.param(
            [node("a", memory=8, disk=5)],
            request(3, memory=1, disk=2),
            "insufficient-disk",
            "Job requires 6G of disk (3 × 2G) but only 4G can be allocated"
            " (2 instances fit; 5G free on 1 node)",
            metrics(1, {}, {"disk": 1}, 3, 2),
            id="exhausted on disk",
        ),
        pytest.param(
            [node("a", memory=3, disk=3), node("b", memory=2, disk=2)],
            request(3, memory=2, disk=2),
            "insufficient-memory",
            "Job requires 6G of memory (3 × 2G) but only 4G can be allocated"
            " (2 instances fit; 5G free on 2 nodes);"
            " 6G of disk (3 × 2G) but only 4G can be allocated"
            " (2 instances fit; 5G free on 2 nodes)",
            metrics(2, {}, {"disk": 2, "memory": 2}, 3, 2),
            id="short of memory and disk: both told, the type memory's",
        ),
        pytest.param(
            [node("a", memory=4), node("b", memory=64, disk=1)],
            request(4, memory=2, disk=2),
            "insufficient-memory",
            "Job requires 8G of memory (4 × 2G) but only 4G can be allocated"
            " on nodes that also have 2G of disk free (2 instances fit)",
            metrics(2, {}, {"disk": 1, "memory": 1}, 4, 2),
            id="enough memory and disk, but not on the same nodes",
        ),
        pytest.param(
            [node("a", memory=2), node("b", memory=64, cordoned=True)],
            request(2, memory=2),
            "insufficient-memory",
            "Job requires 4G of memory (2 × 2G) but only 2G can be allocated"
            " (1 instance fits; 2G free on 1 node); 1 node is cordoned",
            metrics(2, {"cordoned": 1}, {"memory": 1}, 2, 1),
            id="a cordoned node is counted",
        ),
        pytest.param(
            [node("a", memory=4), node("b", memory=4)],
            request(5, memory=2),
            "insufficient-memory",
            "Job requires 10G of memory (5 × 2G) but only 8G can be allocated"
            " (4 instances fit; 8G free on 2 nodes)",
            metrics(2, {}, {"memory": 2}, 5, 4),
            id="every node fine, but too few",
        ),
        pytest.param(
            [
                node("a", labels={"zone": "b"}),
                node("b", labels={"zone": "b"}),
                node("c", labels={"zone": "a"}, cordoned=True),
            ],
            request(1, affinity=(LabelExpression("zone", "In", ("a",)),)),
            "unsatisfiable-constraints",
            "no node matches zone In [a]: 2 nodes have zone=b; 1 node is cordoned",
            metrics(3, {"cordoned": 1, "zone In [a]": 2}, {}, 1, 0),
            id="no node matches, and the cordoned one is named too",
        ),
    ],
)
def test_a_rejection_reports_every_dimension(
    nodes: list[NodeView], req: PlacementRequest, kind: str, detail: str, placement: Any
) -> None:
    shared_free = {n.storage_domain: 100 * G for n in nodes if n.storage_domain is not None}
    rejection = rejected(plan_all_or_nothing(req, None, ClusterView(nodes, shared_free)))
    assert (rejection.kind, rejection.detail) == (kind, detail)
    assert rejection.metrics.to_json() == placement


def test_a_full_volume_zone_is_told_with_what_else_falls_short() -> None:
    req = request(5, shared_volumes=(SharedVolumeNeed("data", G),))
    view = ClusterView([node("a1", memory=4, zone="a")], {"zone=a": G // 2})
    rejection = rejected(plan_all_or_nothing(req, None, view))
    assert rejection.kind == "insufficient-disk"
    assert rejection.detail == (
        "Job requires 1G of shared storage but only 512M is free (in zone a);"
        " Job requires 5G of memory (5 × 1G) but only 4G can be allocated"
        " (4 instances fit; 4G free on 1 node)"
    )
    assert rejection.metrics.nodes_exhausted == {"shared storage": 1, "memory": 1}


def test_pending_reasons_tell_every_dimension_too() -> None:
    view = ClusterView([node("a", memory=3), node("b", memory=64, cordoned=True)])
    result = plan_as_many_as_fit(request(5), None, view)
    assert result.schedule.pending == dict.fromkeys(
        [3, 4],
        "Job requires 2G of memory (2 × 1G)"
        " but no instance fits (0B free on 1 node); 1 node is cordoned",
    )
