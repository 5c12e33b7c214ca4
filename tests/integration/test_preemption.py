"""Priorities and preemption, end to end: with `--preemption service`, a priority-80 job that
does not fit stops exactly the low-priority instances it needs (the plan names them, they turn
pending with the reason, an event says so); without it, the job is refused and nothing moves."""

from __future__ import annotations

from typing import Any

from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

REASON = "preempted by {job} (priority 80)"


def fill_with_low_priority(node: NodeProcess, job: str) -> None:
    """Four 32M instances of a priority-10 job fill the node's 128M; its deployment is over (a
    job mid-deployment is never a victim)."""
    response = node.apply(web_job(job, 4, memory="32M", extra="priority: 10"))
    assert response.status_code == 201, response.text
    node.wait_running(job, 4)
    wait_until(
        lambda: node.request("GET", f"/v1/jobs/{job}/deployment").json()["status"] == "successful",
        timeout=120,
        what=f"the deployment of {job} to succeed",
    )


def plan_of(node: NodeProcess, job: str, spec: str) -> dict[str, Any]:
    response = node.request(
        "POST",
        f"/v1/jobs/{job}/plan",
        content=spec,
        headers={"content-type": "application/yaml"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def placements(node: NodeProcess, job: str) -> dict[str, Any]:
    return dict(node.request("GET", f"/v1/jobs/{job}").json()["placements"])


def test_a_priority_80_job_preempts_exactly_the_instances_it_needs(
    make_node: NodeFactory,
) -> None:
    node = make_node("prio-a", memory="128M", extra_args=("--preemption", "service"))
    fill_with_low_priority(node, "prio-low")
    big = web_job("prio-big", 1, memory="64M", extra="priority: 80")

    plan = plan_of(node, "prio-big", big)
    assert plan["fits"], plan
    victims = [i["name"] for i in plan["instances"] if i["action"] == "preempted"]
    assert len(victims) == 2 and all(name.startswith("prio-low-") for name in victims)
    assert plan["counts"] == {"created": 1, "preempted": 2}
    assert len(placements(node, "prio-low")) == 4  # a plan writes nothing

    response = node.apply(big)
    assert response.status_code == 201, response.text
    assert sorted(i["name"] for i in response.json()["preempted"]) == sorted(victims)
    node.wait_running("prio-big", 1)

    def preempted_pending() -> list[dict[str, Any]] | None:
        pending = [i for i in node.instances("prio-low") if i["state"] == "pending"]
        return pending if len(pending) == 2 else None

    pending = wait_until(preempted_pending, timeout=60, what="2 preempted instances pending")
    assert sorted(i["name"] for i in pending) == sorted(victims)
    assert {i["reason"] for i in pending} == {REASON.format(job="prio-big")}
    running = [i for i in node.instances("prio-low") if i["state"] == "running"]
    assert len(running) == 2
    [record] = node.request("GET", "/v1/nodes").json()
    assert record["allocated"]["memory"] == 128 * 2**20  # 2 × 32M kept + 64M

    events = node.request("GET", "/v1/events", params={"job": "prio-low"}).json()
    preempted = [e for e in events if e["kind"] == "instance-preempted"]
    assert len(preempted) == 2
    assert all("preempted by prio-big (priority 80)" in e["message"] for e in preempted)


def test_without_service_preemption_the_job_is_refused_and_nothing_changes(
    make_node: NodeFactory,
) -> None:
    node = make_node("prio-b", memory="128M")
    fill_with_low_priority(node, "prio-low2")
    before = placements(node, "prio-low2")

    big = web_job("prio-big2", 1, memory="64M", extra="priority: 80")
    plan = plan_of(node, "prio-big2", big)
    assert not plan["fits"] and plan["rejection"]["type"].endswith("#insufficient-memory")
    response = node.apply(big)
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("#insufficient-memory")

    assert node.request("GET", "/v1/jobs/prio-big2").status_code == 404
    assert placements(node, "prio-low2") == before
    assert all(i["state"] == "running" for i in node.instances("prio-low2"))


def test_a_system_job_preempts_a_low_priority_instance_on_a_full_node(
    make_node: NodeFactory,
) -> None:
    """The default `--preemption system`: a system job (priority 50) takes its place on a node
    full of a priority-10 job by stopping one of its instances, in the same commit."""
    node = make_node("prio-c", memory="128M")
    fill_with_low_priority(node, "prio-low3")
    shipper = "\n".join(
        [
            "name: prio-shipper",
            "type: system",
            "containers:",
            "  shipper:",
            "    image: localhost/ozy-example-tools:latest",
            "    memory: 16M",
            "    command: [sh, -c, 'exec /srv/entrypoint.sh']",
        ]
    )
    plan = plan_of(node, "prio-shipper", shipper + "\n")
    victims = [i["name"] for i in plan["instances"] if i["action"] == "preempted"]
    assert len(victims) == 1 and victims[0].startswith("prio-low3-"), plan

    response = node.apply(shipper + "\n")
    assert response.status_code == 201, response.text
    wait_until(
        lambda: [i["state"] for i in node.instances("prio-shipper")] == ["running"],
        timeout=90,
        what="the system job's instance running on the full node",
    )
    pending = [i for i in node.instances("prio-low3") if i["state"] == "pending"]
    assert [i["name"] for i in pending] == victims
    assert pending[0]["reason"] == "preempted by prio-shipper (priority 50)"
    events = node.request("GET", "/v1/events", params={"job": "prio-low3"}).json()
    assert any(e["kind"] == "instance-preempted" for e in events)
