"""The rich tables the commands print: API answers in, `Table` out."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table

from ozymandias.cli.deployment_view import instance_row
from ozymandias.spec.sizes import format_size


def jobs_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table("NAME", "INSTANCES", "RUNNING", "STATES", "VERSION", box=None)
    for job in jobs:
        states = ", ".join(f"{state} {count}" for state, count in job["states"].items())
        table.add_row(
            job["name"], str(job["numInstances"]), str(job["running"]), states, str(job["version"])
        )
    return table


def versions_table(versions: list[dict[str, Any]]) -> Table:
    """A job's history, newest first, as `ozy history` shows it."""
    table = Table("VERSION", "SUBMITTED", "STATUS", "STABLE", "CHANGES", box=None)
    for item in versions:
        table.add_row(
            f"{item['version']} (current)" if item["current"] else str(item["version"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item["submittedAt"])),
            styled_state(item["deploymentStatus"] or "-"),
            "yes" if item["stable"] else "no",
            item["summary"],
        )
    return table


def instances_table(instances: list[dict[str, Any]]) -> Table:
    table = Table(
        "INSTANCE", "NODE", "STATE", "HEALTH", "VERSION", "RESTARTS", "POD IP", "REASON", box=None
    )
    # The name is what a user types next (`ozy logs NAME`): never cut it short.
    table.columns[0].min_width = max((len(item["name"]) for item in instances), default=8)
    for item in instances:
        table.add_row(
            item["name"],
            item["node"] or "-",
            styled_state(item["state"]),
            styled_state(item.get("health") or "-"),
            str(item.get("specVersion") or "-"),
            str(item["restarts"]),
            item["podIP"] or "-",
            item["reason"],
        )
    return table


def deployment_instances_table(instances: list[dict[str, Any]]) -> Table:
    """A deployment's instances: the version each runs and should run, its state and node."""
    table = Table("INSTANCE", "VERSION", "STATE", "HEALTH", "NODE", "NOTE", box=None)
    table.columns[0].min_width = max((len(item["name"]) for item in instances), default=8)
    for item in instances:
        name, versions, state, health, node, note = instance_row(item)
        table.add_row(name, versions, styled_state(state), styled_state(health), node, note)
    return table


def deployments_table(deployments: list[dict[str, Any]]) -> Table:
    table = Table(
        "JOB", "VERSION", "STATUS", "HEALTHY", "PLACED", "CANARY", "DESCRIPTION", box=None
    )
    # The job is what a user types next (`ozy deployment status JOB`): never cut it short.
    table.columns[0].min_width = max((len(item["job"]) for item in deployments), default=3)
    for item in deployments:
        healthy = f"{item['healthy']}/{item['desired']}"
        if item["unhealthy"]:
            healthy += f" ({item['unhealthy']} unhealthy)"
        canary = str(item["canary"]) + (" promoted" if item["promoted"] else "")
        table.add_row(
            item["job"],
            str(item["version"]),
            styled_state(item["status"]),
            healthy,
            str(item["placed"]),
            canary if item["canary"] else "-",
            item["description"],
        )
    return table


def plan_instances_table(instances: list[dict[str, Any]]) -> Table:
    """What a plan does to each instance, as `ozy plan` shows it."""
    table = Table("INSTANCE", "ACTION", "NODE", box=None)
    for item in instances:
        node = item["node"] or "-"
        if item["previousNode"]:
            node = f"{node} (from {item['previousNode']})"
        table.add_row(item["name"], styled_action(item["action"]), node)
    return table


_ACTION_STYLES = {
    "created": "green",
    "stopped": "red",
    "replaced": "yellow",
    "updated in place": "cyan",
}


def styled_action(action: str) -> str:
    style = _ACTION_STYLES.get(action)
    return f"[{style}]{action}[/]" if style else action


def containers_table(containers: list[dict[str, Any]]) -> Table:
    """One instance's containers, as `describe instance` shows them."""
    table = Table(
        "CONTAINER", "STATE", "EXIT CODE", "RESTARTS", "CRASH STREAK", "RESTART AT", box=None
    )
    for item in containers:
        restart_at = item.get("restartAt")
        table.add_row(
            item["name"],
            styled_state(item["state"]),
            "-" if item.get("exitCode") is None else str(item["exitCode"]),
            str(item.get("restarts", 0)),
            str(item.get("crashStreak", 0)),
            time.strftime("%H:%M:%S", time.localtime(restart_at)) if restart_at else "-",
        )
    return table


def ingress_table(ingress: dict[str, Any]) -> Table:
    table = Table("ROUTE", "JOB", "TO PORT", "HEALTHY", "BACKENDS", box=None)
    for route in ingress["http"]:
        table.add_row(
            "http " + ", ".join(route["hosts"]),
            route["job"],
            str(route["port"]),
            str(route["healthy"]),
            " ".join(backend["address"] for backend in route["backends"]) or "-",
        )
    for route in ingress["tcp"]:
        table.add_row(
            f"tcp :{route['port']}",
            route["job"],
            str(route["targetPort"]),
            str(route["healthy"]),
            " ".join(backend["address"] for backend in route["backends"]) or "-",
        )
    return table


def nodes_table(nodes: list[dict[str, Any]]) -> Table:
    table = Table(
        "NAME",
        "STATUS",
        "ADDRESS",
        "LABELS",
        "MEMORY (ALLOC/CAP)",
        "DISK (ALLOC/CAP)",
        "CPU (ALLOC/CAP)",
        "LOAD",
        box=None,
    )
    for item in nodes:
        labels = labels_text(item["labels"])
        table.add_row(
            item["name"],
            "cordoned" if item["cordoned"] else "ready",
            item["address"],
            labels,
            allocated_of(item, "memory"),
            allocated_of(item, "disk"),
            allocated_of(item, "cpu"),
            load_of(item),
        )
    return table


def volumes_table(volumes: list[dict[str, Any]]) -> Table:
    # No JOB column: a volume's name starts with its job's (-o json has it apart).
    table = Table("NAME", "KIND", "SIZE", "USED", "ZONE/NODE", "STATE", box=None)
    # A name cut short can't be passed to `ozy delete volume`.
    table.columns[0].min_width = max((len(item["name"]) for item in volumes), default=4)
    for item in volumes:
        where = f"zone {item['zone']}" if item["zone"] else f"node {item['node']}"
        used = format_size(item["used"]) if item["used"] is not None else "-"
        table.add_row(
            item["name"],
            item["kind"],
            format_size(item["size"]),
            used,
            where,
            item["state"],
        )
    return table


def events_table(events: list[dict[str, Any]]) -> Table:
    table = Table("TIME", "KIND", "INSTANCE", "NODE", "MESSAGE", box=None)
    for event in events:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["time"])),
            event["kind"],
            event["instance"] or event["job"] or "-",
            event["node"] or "-",
            event["message"],
        )
    return table


def aliases_table(aliases: list[dict[str, Any]]) -> Table:
    table = Table("ALIAS", "TARGETS", box=None)
    for alias in aliases:
        table.add_row(alias["name"], ", ".join(alias["targets"]))
    return table


def labels_text(labels: dict[str, str]) -> str:
    """`region=r1,zone=a`, or "-" for none."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def allocated_of(node: dict[str, Any], resource: str) -> str:
    allocated, capacity = node["allocated"][resource], node["capacity"][resource]
    if resource == "cpu":  # in cores, as a spec's `cpus` is written
        return f"{_cores(allocated)} / {_cores(capacity)}"
    return f"{format_size(allocated)} / {format_size(capacity)}"


def load_of(node: dict[str, Any]) -> str:
    """The node's load per core, marked when it is above its threshold (so placed last)."""
    load = f"{node['load']:.2f}"
    return f"{load} (busy)" if node["load"] > node["loadThreshold"] else load


def _cores(millicores: int) -> str:
    return f"{millicores / 1000:.3f}".rstrip("0").rstrip(".")


def styled_state(state: str) -> str:
    colour = {
        "running": "green",
        "healthy": "green",
        "failed": "red",
        "unhealthy": "red",
        "completed": "green",
        "stopping": "yellow",
        "successful": "green",
        "reverted": "red",
        "paused": "yellow",
    }.get(state, "cyan")
    return f"[{colour}]{state}[/]"
