"""The rich tables the commands print: API answers in, `Table` out.

Default columns are the short ones, so a row fits a terminal; `wide` (from
`-o wide`) adds the long ones: free text (REASON, NOTE, DESCRIPTION),
labels and lists. Print them with `table_output.print_table`, which never cuts
a cell.
"""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape
from rich.table import Table

from ozymandias.cli.deployment_view import instance_row
from ozymandias.spec.sizes import format_size


def new_table(*headers: str) -> Table:
    """A borderless table, as kubectl prints them: no blank edge before the first column."""
    return Table(*headers, box=None, pad_edge=False)


def jobs_table(jobs: list[dict[str, Any]], wide: bool = False) -> Table:
    table = new_table("NAME", "INSTANCES", "RUNNING", "STATES", "VERSION")
    if wide:
        table.add_column("PRIORITY")
        table.add_column("LABELS")
    for job in jobs:
        states = ", ".join(f"{state} {count}" for state, count in job["states"].items())
        row = [job["name"], instances_text(job), str(job["running"]), states]
        row.append(str(job["version"]))
        if wide:
            # An API from before priorities has none: every job there is at the default.
            row.append(str(job.get("priority", 50)))
            row.append(labels_text(job.get("labels", {})))
        table.add_row(*row)
    return table


def instances_text(job: dict[str, Any]) -> str:
    """A job's INSTANCES cell: its count, or for a system job `placed/eligible (system)`."""
    if job.get("type") == "system":
        return f"{job['placed']}/{job['numInstances']} (system)"
    return str(job["numInstances"])


def versions_table(versions: list[dict[str, Any]], wide: bool = False) -> Table:
    """A job's history, newest first, as `ozy history` shows it. CHANGES is what a history is
    read for, so it is there without `wide` too (last, where a long one harms no column)."""
    del wide
    table = new_table("VERSION", "SUBMITTED", "STATUS", "STABLE", "CHANGES")
    for item in versions:
        table.add_row(
            f"{item['version']} (current)" if item["current"] else str(item["version"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item["submittedAt"])),
            styled_state(item["deploymentStatus"] or "-"),
            "yes" if item["stable"] else "no",
            item["summary"],
        )
    return table


def instances_table(instances: list[dict[str, Any]], wide: bool = False) -> Table:
    """REASON, free text, only when `wide` (`describe instance` has it too)."""
    table = new_table("INSTANCE", "NODE", "STATE", "HEALTH", "VERSION", "RESTARTS", "POD IP")
    if wide:
        table.add_column("REASON")
    for item in instances:
        row = [
            item["name"],
            item["node"] or "-",
            styled_state(item["state"]),
            styled_state(item.get("health") or "-"),
            str(item.get("specVersion") or "-"),
            str(item["restarts"]),
            item["podIP"] or "-",
        ]
        if wide:
            row.append(escape(item["reason"]) or "-")
        table.add_row(*row)
    return table


def deployment_instances_table(instances: list[dict[str, Any]], wide: bool = False) -> Table:
    """A deployment's instances: the version each runs and should run, its state and node;
    the NOTE (canary, what it replaces, restarts, why it waits) only when `wide`."""
    table = new_table("INSTANCE", "VERSION", "STATE", "HEALTH", "NODE")
    if wide:
        table.add_column("NOTE")
    for item in instances:
        name, versions, state, health, node, note = instance_row(item)
        row = [name, versions, styled_state(state), styled_state(health), node]
        if wide:
            row.append(escape(note) or "-")
        table.add_row(*row)
    return table


def deployments_table(deployments: list[dict[str, Any]], wide: bool = False) -> Table:
    """DESCRIPTION, free text, only when `wide`."""
    table = new_table("JOB", "VERSION", "STATUS", "HEALTHY", "PLACED", "CANARY")
    if wide:
        table.add_column("DESCRIPTION")
    for item in deployments:
        healthy = f"{item['healthy']}/{item['desired']}"
        if item["unhealthy"]:
            healthy += f" ({item['unhealthy']} unhealthy)"
        canary = str(item["canary"]) + (" promoted" if item["promoted"] else "")
        row = [
            item["job"],
            str(item["version"]),
            styled_state(item["status"]),
            healthy,
            str(item["placed"]),
            canary if item["canary"] else "-",
        ]
        if wide:
            row.append(escape(item["description"]) or "-")
        table.add_row(*row)
    return table


def plan_instances_table(instances: list[dict[str, Any]]) -> Table:
    """What a plan does to each instance, as `ozy plan` shows it."""
    table = new_table("INSTANCE", "ACTION", "NODE")
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
    "preempted": "magenta",
}


def styled_action(action: str) -> str:
    style = _ACTION_STYLES.get(action)
    return f"[{style}]{action}[/]" if style else action


def containers_table(containers: list[dict[str, Any]]) -> Table:
    """One instance's containers, as `describe instance` shows them."""
    table = new_table("CONTAINER", "STATE", "EXIT CODE", "RESTARTS", "CRASH STREAK", "RESTART AT")
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


def ingress_table(ingress: dict[str, Any], wide: bool = False) -> Table:
    """The backends' addresses, a list as long as the job has instances, only when `wide`."""
    table = new_table("ROUTE", "JOB", "TO PORT", "HEALTHY")
    if wide:
        table.add_column("BACKENDS")
    routes = [
        ("http " + ", ".join(route["hosts"]), route, route["port"]) for route in ingress["http"]
    ] + [(f"tcp :{route['port']}", route, route["targetPort"]) for route in ingress["tcp"]]
    for name, route, port in routes:
        row = [name, route["job"], str(port), str(route["healthy"])]
        if wide:
            row.append(" ".join(backend["address"] for backend in route["backends"]) or "-")
        table.add_row(*row)
    return table


def nodes_table(nodes: list[dict[str, Any]], wide: bool = False) -> Table:
    """LABELS only when `wide` (`describe node` has them too), as kubectl's --show-labels."""
    table = new_table(
        "NAME",
        "STATUS",
        "ADDRESS",
        "MEMORY (ALLOC/CAP)",
        "DISK (ALLOC/CAP)",
        "CPU (ALLOC/CAP)",
        "LOAD",
    )
    if wide:
        table.add_column("LABELS")
    for item in nodes:
        row = [
            item["name"],
            # An API from before drains were shown says only whether it is cordoned.
            item.get("status") or ("cordoned" if item["cordoned"] else "ready"),
            item["address"],
            allocated_of(item, "memory"),
            allocated_of(item, "disk"),
            allocated_of(item, "cpu"),
            load_of(item),
        ]
        if wide:
            row.append(escape(labels_text(item["labels"])))
        table.add_row(*row)
    return table


def volumes_table(volumes: list[dict[str, Any]], wide: bool = False) -> Table:
    """Every column is short: `wide` adds none."""
    del wide
    # No JOB column: a volume's name starts with its job's (-o json has it apart).
    table = new_table("NAME", "KIND", "SIZE", "USED", "ZONE/NODE", "STATE")
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


def events_table(events: list[dict[str, Any]], wide: bool = False) -> Table:
    """MESSAGE is what an event is read for, so it is there without `wide` too (last, where
    a long one harms no column), as in `kubectl get events`."""
    del wide
    table = new_table("TIME", "KIND", "INSTANCE", "NODE", "MESSAGE")
    for event in events:
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["time"])),
            event["kind"],
            event["instance"] or event["job"] or "-",
            event["node"] or "-",
            escape(event["message"]),
        )
    return table


def aliases_table(aliases: list[dict[str, Any]], wide: bool = False) -> Table:
    """Every column is short: `wide` adds none."""
    del wide
    table = new_table("ALIAS", "TARGETS")
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
