"""A node's `GET /metrics`, read as Prometheus reads it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.nodes import NodeProcess

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """The families (named as exposed: counters with `_total`) and samples of an exposition."""
    families: set[str] = set()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        families.add(family.name + ("_total" if family.type == "counter" else ""))
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return families, samples


def scrape(node: NodeProcess) -> tuple[set[str], Samples]:
    reply = node.request("GET", "/metrics")
    assert reply.status_code == 200, reply.text
    return parse(reply.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for one not (yet) exposed, as Prometheus reads a missing series."""
    return samples.get((name, frozenset(labels.items())), 0.0)
