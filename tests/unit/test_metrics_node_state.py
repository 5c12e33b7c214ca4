"""The node's scrape-time gauges (metrics/node_state.py) and their registration per term."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from ozymandias.cluster.records import Node, Resources
from ozymandias.metrics.families import Family, registered
from ozymandias.metrics.node_state import NodeCollector

GiB = 1024**3
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=8 * GiB, disk=50 * GiB, cpu=4000),
    started_at=0,
)


def scrape(collector: NodeCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The collector's samples, through the text format and Prometheus' own parser."""
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def collector(
    record: Node | None = NODE,
    allocation: Resources | None = None,
    instances: list[tuple[str, str]] | None = None,
    age: float = 1.5,
) -> NodeCollector:
    return NodeCollector(
        record=lambda: record,
        allocation=lambda: allocation,
        instances=lambda: instances or [],
        lease_age=lambda: age,
    )


def test_capacity_and_allocation_in_bytes_and_cores() -> None:
    allocated = Resources(memory=GiB, disk=2 * GiB, cpu=1500)
    samples = scrape(collector(allocation=allocated))
    assert samples[("ozy_node_capacity_memory_bytes", ())] == 8 * GiB
    assert samples[("ozy_node_capacity_disk_bytes", ())] == 50 * GiB
    assert samples[("ozy_node_capacity_cpu_cores", ())] == 4.0
    assert samples[("ozy_node_allocated_memory_bytes", ())] == GiB
    assert samples[("ozy_node_allocated_disk_bytes", ())] == 2 * GiB
    assert samples[("ozy_node_allocated_cpu_cores", ())] == 1.5
    assert samples[("ozy_node_lease_refresh_age_seconds", ())] == 1.5


def test_a_node_not_yet_mirrored_reports_no_capacity_rather_than_zero() -> None:
    samples = scrape(collector(record=None, allocation=None))
    assert not [name for name, _ in samples if "capacity" in name or "allocated" in name]


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        pytest.param([], {}, id="no pods"),
        pytest.param(
            [("web", "running"), ("web", "running"), ("web", "failed"), ("db", "starting")],
            {("web", "running"): 2, ("web", "failed"): 1, ("db", "starting"): 1},
            id="by job and state",
        ),
    ],
)
def test_instances_are_counted_by_job_and_state(
    instances: list[tuple[str, str]], expected: dict[tuple[str, str], int]
) -> None:
    samples = scrape(collector(instances=instances))
    counted = {
        (dict(labels)["job"], dict(labels)["state"]): value
        for (name, labels), value in samples.items()
        if name == "ozy_node_instances"
    }
    assert counted == expected


def test_each_term_registers_its_collector_and_unregisters_it_after() -> None:
    for age in (1.0, 2.0):  # two terms of membership, one after the other
        with registered(collector(age=age)):
            assert REGISTRY.get_sample_value("ozy_node_lease_refresh_age_seconds") == age
        assert REGISTRY.get_sample_value("ozy_node_lease_refresh_age_seconds") is None


class _Counted:
    """A collector of one counter kept elsewhere (as the ingress reads HAProxy's)."""

    FAMILY = Family("ozy_test_requests_total", "Requests.", ("job",), type="counter")

    def collect(self) -> list[Metric]:
        family = self.FAMILY.empty()
        family.add_metric(["web"], 7)
        return [family]


def test_a_counter_family_is_exposed_under_its_total_name() -> None:
    registry = CollectorRegistry()
    registry.register(_Counted())
    (family,) = text_string_to_metric_families(generate_latest(registry).decode())
    assert family.type == "counter"
    assert [(s.name, s.labels, s.value) for s in family.samples] == [
        ("ozy_test_requests_total", {"job": "web"}, 7.0)
    ]
