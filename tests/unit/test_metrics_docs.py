"""docs/metrics.md lists every metric the node defines, with its type and labels, and no other."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

import ozymandias.metrics
from ozymandias.metrics.families import Family

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
_ROW = re.compile(r"^\| `(ozy_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|[^|]+\|$")

Described = dict[str, tuple[str, tuple[str, ...]]]  # name: (type, labels)


def documented() -> Described:
    """Every row of every `| Metric | Type | Labels | Meaning |` table in docs/metrics.md."""
    rows: Described = {}
    for line in DOCS.read_text().splitlines():
        if line.startswith("| `"):
            match = _ROW.match(line)
            assert match, f"not a | `name` | type | labels | meaning | row: {line}"
            name, kind, labels = match.groups()
            assert name not in rows, f"{name} is documented twice"
            rows[name] = (kind, tuple(re.findall(r"`([a-z_]+)`", labels)))
    return rows


def defined() -> Described:
    """Every `ozy_` metric the modules of ozymandias.metrics define, as exposed (`_total`)."""
    found: Described = {}
    for module_info in pkgutil.iter_modules(ozymandias.metrics.__path__):
        module = importlib.import_module(f"ozymandias.metrics.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                (family,) = value.describe()
                name = family.name + ("_total" if family.type == "counter" else "")
                # prometheus_client keeps a metric's label names only privately.
                found[name] = (family.type, tuple(value._labelnames))
            elif isinstance(value, Family):
                found[value.name] = (value.type, value.labels)
    return {name: described for name, described in found.items() if name.startswith("ozy_")}


def test_the_docs_list_every_metric_and_only_those() -> None:
    docs, code = documented(), defined()
    assert sorted(set(code) - set(docs)) == [], "defined but not in docs/metrics.md"
    assert sorted(set(docs) - set(code)) == [], "in docs/metrics.md but not defined"


def test_the_docs_give_each_metric_its_type_and_labels() -> None:
    docs, code = documented(), defined()
    assert {name: docs[name] for name in code} == code


def test_the_docs_cover_each_area_the_issue_asks_for() -> None:
    sections = re.findall(r"^## (.+)$", DOCS.read_text(), re.MULTILINE)
    assert {"Node", "Scheduler", "Deployments", "Health", "etcd"} <= set(sections)
    assert len(defined()) >= 20
