"""Tables as the apiserver sends them: columns, wide ones, row objects, and AGE's wording."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import JobRecord
from ozymandias.kube.deployments import deployment_from_job, job_spec_from_deployment
from ozymandias.kube.tables import COLUMNS, human_duration, selector_text, table
from ozymandias.spec.loader import job_from_data
from tests.unit.kube.manifests import nginx


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-1.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (190, "3m10s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (4 * 3600 + 5 * 60, "4h5m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 3599, "47h"),
        (2 * 86400, "2d"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (2 * 365 * 86400, "2y"),
        (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_age_is_kubectls_human_duration(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("kind", "names", "wide"),
    [
        (
            "Pod",
            ["Name", "Ready", "Status", "Restarts", "Age"],
            ["IP", "Node", "Nominated Node", "Readiness Gates"],
        ),
        (
            "Node",
            ["Name", "Status", "Roles", "Age", "Version"],
            ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"],
        ),
        (
            "Deployment",
            ["Name", "Ready", "Up-to-date", "Available", "Age"],
            ["Containers", "Images", "Selector"],
        ),
        (
            "Event",
            ["Last Seen", "Type", "Reason", "Object", "Message"],
            ["Subobject", "Source", "First Seen", "Count", "Name"],
        ),
    ],
)
def test_columns_as_the_apiserver_prints_them(kind: str, names: list[str], wide: list[str]) -> None:
    assert [c["name"] for c in COLUMNS[kind] if c["priority"] == 0] == names
    assert [c["name"] for c in COLUMNS[kind] if c["priority"] == 1] == wide
    assert COLUMNS[kind][0]["format"] == "name" or kind == "Event"
    assert not table(kind, [], now=0.0)["rows"]
    short = table(kind, [], now=0.0, wide=False)["columnDefinitions"]
    assert [c["name"] for c in short] == names


def deployment() -> dict[str, object]:
    spec = job_from_data(job_spec_from_deployment(nginx()))
    record = JobRecord(spec=spec, version=1, submitted_at=100.0)
    return deployment_from_job(record, None, [], resource_version=5, created=100.0)


def test_a_deployments_row_and_its_object() -> None:
    shown = deployment()
    result = table("Deployment", [shown], now=145.0, resource_version="5")
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "5"}
    [row] = result["rows"]
    assert row["cells"] == [
        "nginx-deployment",
        "0/3",
        0,
        0,
        "45s",
        "nginx",
        "nginx:1.14.2",
        "app=nginx",
    ]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": shown["metadata"],
    }
    assert (
        table("Deployment", [shown], now=0.0, include_object="Object")["rows"][0]["object"] is shown
    )
    assert "object" not in table("Deployment", [shown], now=0.0, include_object="None")["rows"][0]
    assert table("Deployment", [shown], now=145.0, wide=False)["rows"][0]["cells"] == [
        "nginx-deployment",
        "0/3",
        0,
        0,
        "45s",
    ]


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (None, ""),
        ({"matchLabels": {"tier": "web", "app": "x"}}, "app=x,tier=web"),
        (
            {
                "matchExpressions": [
                    {"key": "env", "operator": "In", "values": ["b", "a"]},
                    {"key": "gone", "operator": "DoesNotExist"},
                ]
            },
            "env in (a,b),!gone",
        ),
    ],
)
def test_selectors_print_as_labels_selector_strings(
    selector: dict[str, object] | None, text: str
) -> None:
    assert selector_text(selector) == text
