"""How system jobs are shown and found: `<job>-<node>` names, placed/eligible counts."""

from __future__ import annotations

from typing import cast

import pytest

from ozymandias.api.instance_proxy import InstancePlace, locate_instance
from ozymandias.api.problems import Problem
from ozymandias.api.views import instances_of, job_summary
from ozymandias.cli.tables import instances_text
from ozymandias.cluster.compact_status import CompactStatus
from ozymandias.cluster.records import JobRecord, Schedule
from ozymandias.spec.loader import load_job
from ozymandias.store.cluster_mirrors import ClusterMirrors

SYSTEM = "type: system\ncontainers: {app: {image: tools:1}}\n"
SERVICE = "numInstances: 1\ncontainers: {app: {image: web:1}}\n"


class Mirrors:
    """Jobs and schedules by name, as the node's mirrors hold them."""

    def __init__(self, jobs: dict[str, tuple[str, Schedule]]) -> None:
        self.jobs = {
            name: JobRecord(spec=load_job(f"name: {name}\n{text}"))
            for name, (text, _) in jobs.items()
        }
        self.schedules = {name: schedule for name, (_, schedule) in jobs.items()}

    def job(self, name: str) -> JobRecord | None:
        return self.jobs.get(name)

    def schedule(self, name: str) -> Schedule | None:
        return self.schedules.get(name)

    def compact_statuses(self, _: str) -> list[CompactStatus]:
        return []


def mirrors(**jobs: tuple[str, Schedule]) -> ClusterMirrors:
    return cast(ClusterMirrors, Mirrors(jobs))


AGENT = Schedule(
    job="agent",
    placements={0: "node-a", 2: "b"},
    pending={1: "node node-c: Job requires 64M of memory"},
    nodes={0: "node-a", 1: "node-c", 2: "b"},
)


def test_system_instances_are_named_after_their_nodes() -> None:
    shown = instances_of("agent", mirrors(agent=(SYSTEM, AGENT)))
    assert [(i["name"], i["node"], i["state"]) for i in shown] == [
        ("agent-node-a", "node-a", "pending"),
        ("agent-b", "b", "pending"),
        ("agent-node-c", "node-c", "pending"),
    ]
    assert shown[2]["reason"].startswith("node node-c:")


def test_a_system_job_counts_placed_of_eligible() -> None:
    found = mirrors(agent=(SYSTEM, AGENT))
    record = found.job("agent")
    assert record is not None
    summary = job_summary(record, found)
    assert (summary["type"], summary["placed"], summary["numInstances"]) == ("system", 2, 3)
    assert instances_text(summary) == "2/3 (system)"
    assert instances_text({"type": "service", "numInstances": 4}) == "4"


@pytest.mark.parametrize(
    ("name", "place"),
    [
        pytest.param("agent-node-a", InstancePlace("agent", 0, "node-a"), id="node with a dash"),
        pytest.param("agent-b", InstancePlace("agent", 2, "b"), id="plain node"),
        pytest.param("agent-2", InstancePlace("agent", 2, "b"), id="by index too"),
        pytest.param("web-0", InstancePlace("web", 0, "b"), id="service job"),
        pytest.param("my-agent-b", InstancePlace("my-agent", 5, "b"), id="job with a dash"),
    ],
)
def test_an_instance_is_found_by_either_name(name: str, place: InstancePlace) -> None:
    found = mirrors(
        agent=(SYSTEM, AGENT),
        web=(SERVICE, Schedule(job="web", placements={0: "b"})),
        **{"my-agent": (SYSTEM, Schedule(job="my-agent", placements={5: "b"}, nodes={5: "b"}))},
    )
    assert locate_instance(name, found) == place


@pytest.mark.parametrize("name", ["agent-node-c", "agent-nowhere", "web-b"])
def test_a_pending_or_unknown_instance_is_not_found(name: str) -> None:
    found = mirrors(agent=(SYSTEM, AGENT), web=(SERVICE, Schedule(job="web", placements={0: "b"})))
    with pytest.raises(Problem):
        locate_instance(name, found)
