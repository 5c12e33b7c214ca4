"""System jobs (`type: system`) on real node daemons sharing one etcd: one instance per
eligible node, nodes joining and leaving, a label selector, scaling refused, an in-place
update, a drain that stops it last, and the example exporter."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.jobs import web_job
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until


def system_job(name: str, selector: dict[str, str] | None = None) -> str:
    lines = [
        f"name: {name}",
        "type: system",
        "containers:",
        "  shipper:",
        "    image: localhost/ozy-example-tools:latest",
        "    memory: 16M",
        "    command: [sh, -c, 'echo shipping from $(hostname); exec /srv/entrypoint.sh']",
    ]
    if selector:
        lines += ["nodeSelector:", *(f"  {key}: {value!r}" for key, value in selector.items())]
    return "\n".join(lines) + "\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def by_name(node: NodeProcess, job: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in node.instances(job)}


def placed_on(node: NodeProcess, job: str) -> set[str]:
    """The nodes the job's instances are placed on; none may be pending for want of room
    (a placed one its node has not reported on yet shows as pending, without a reason)."""
    items = node.instances(job)
    assert not [item for item in items if item["state"] == "pending" and item["reason"]], items
    return {item["node"] for item in items}


def running_on(node: NodeProcess, job: str, nodes: set[str]) -> bool:
    items = by_name(node, job)
    wanted = {f"{job}-{name}" for name in nodes}
    return set(items) == wanted and all(items[n]["state"] == "running" for n in wanted)


def test_one_instance_per_node_as_nodes_join_and_leave(make_node: NodeFactory) -> None:
    first, second = make_node("sys-n1"), make_node("sys-n2")
    job = unique("shipper")
    applied = first.apply(system_job(job))
    assert applied.status_code == 201, applied.text
    wait_until(
        lambda: running_on(first, job, {"sys-n1", "sys-n2"}),
        timeout=90,
        what=f"{job} running on both nodes",
    )
    summary = next(j for j in first.request("GET", "/v1/jobs").json() if j["name"] == job)
    assert (summary["type"], summary["placed"], summary["numInstances"]) == ("system", 2, 2)

    scaled = first.request("POST", f"/v1/jobs/{job}/scale", json={"numInstances": 5})
    assert scaled.status_code == 422
    assert scaled.headers["content-type"].startswith("application/problem+json")
    assert scaled.json()["type"].endswith("#not-scalable")

    # The name `<job>-<node>` reaches the instance: its logs, from either node.
    logs = second.request("GET", f"/v1/instances/{job}-sys-n1/logs")
    assert logs.status_code == 200, logs.text
    assert "shipping from" in logs.text

    third = make_node("sys-n3")  # returns once every node sees every other
    joined = time.monotonic()
    wait_until(
        lambda: placed_on(second, job) == {"sys-n1", "sys-n2", "sys-n3"},
        timeout=10,
        what=f"{job} placed on the node that joined",
    )
    assert time.monotonic() - joined < 10
    wait_until(
        lambda: running_on(first, job, {"sys-n1", "sys-n2", "sys-n3"}),
        timeout=90,
        what=f"{job} running on the node that joined",
    )

    third.stop()  # gracefully: its lease is revoked, so it is gone at once
    wait_until(
        lambda: placed_on(first, job) == {"sys-n1", "sys-n2"},
        timeout=30,
        what=f"{job}'s instance gone with its node, nothing pending",
    )
    assert set(by_name(first, job)) == {f"{job}-sys-n1", f"{job}-sys-n2"}


def test_a_node_selector_limits_it_and_a_label_change_follows(make_node: NodeFactory) -> None:
    labelled = make_node("sys-a", labels="logs=on")
    plain = make_node("sys-b")
    job = unique("selected")
    applied = labelled.apply(system_job(job, {"logs": "on"}))
    assert applied.status_code == 201, applied.text
    wait_until(
        lambda: running_on(plain, job, {"sys-a"}),
        timeout=90,
        what=f"{job} running on the labelled node only",
    )
    # A node that joins with the label gets one; the unlabelled one still has none.
    make_node("sys-c", labels="logs=on")
    wait_until(
        lambda: placed_on(plain, job) == {"sys-a", "sys-c"},
        timeout=10,
        what=f"{job} placed on the labelled node that joined",
    )


def on_node(node: NodeProcess, job: str, name: str) -> bool:
    return any(item["node"] == name for item in node.instances(job))


def test_updates_in_place_then_a_drain_stops_it_last(make_node: NodeFactory) -> None:
    first = make_node("sys-d1")
    make_node("sys-d2")
    job, service = unique("agent"), unique("web")
    assert first.apply(system_job(job)).status_code == 201
    assert first.apply(web_job(service, 2)).status_code == 201
    wait_until(lambda: running_on(first, job, {"sys-d1", "sys-d2"}), timeout=90, what=job)
    first.wait_running(service, 2)

    # A new version replaces each instance on its own node.
    updated = system_job(job).replace("shipping from", "shipping v2 from")
    assert first.apply(updated).status_code == 200

    def rolled_out() -> bool:
        deployment = first.request("GET", f"/v1/jobs/{job}/deployment").json()
        return bool(deployment["version"] == 2 and deployment["status"] == "successful")

    wait_until(rolled_out, timeout=120, what=f"{job} version 2 rolled out")
    items = by_name(first, job)
    assert set(items) == {f"{job}-sys-d1", f"{job}-sys-d2"}
    assert {item["specVersion"] for item in items.values()} == {2}

    # A drain moves the service instance first; the system instance stops only after.
    drained = first.request("POST", "/v1/nodes/sys-d2/drain", json={"deadline": "2m"})
    assert drained.status_code == 200, drained.text

    def drain_done() -> bool:
        system_there = on_node(first, job, "sys-d2")
        service_there = on_node(first, service, "sys-d2")
        assert system_there or not service_there, "the system instance stopped before services"
        return not system_there and not service_there

    wait_until(drain_done, timeout=120, interval=0.1, what="sys-d2 drained")
    assert placed_on(first, job) == {"sys-d1"}  # gone, not pending

    assert first.request("POST", "/v1/nodes/sys-d2/uncordon").status_code == 200
    wait_until(
        lambda: placed_on(first, job) == {"sys-d1", "sys-d2"},
        timeout=10,
        what=f"{job} back on the uncordoned node",
    )


def test_the_example_exporter_serves_metrics_on_its_nodes(make_node: NodeFactory) -> None:
    node = make_node("sys-m1", labels="metrics=on")
    make_node("sys-m2")  # without the label: no exporter there
    spec = (Path(__file__).parents[2] / "examples" / "node-exporter.yaml").read_text()
    applied = node.apply(spec)
    assert applied.status_code == 201, applied.text

    def healthy() -> bool:
        items = node.instances("node-exporter")
        return [(i["name"], i["state"], i["health"]) for i in items] == [
            ("node-exporter-sys-m1", "running", "healthy")
        ]

    # Healthy means its check got /metrics from busybox httpd on port 9100.
    wait_until(healthy, timeout=90, what="the example exporter healthy on the labelled node")
