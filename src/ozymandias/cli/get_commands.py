"""`ozy get …` (jobs, instances, ingress, nodes, volumes, events) and `ozy describe job`:
read the cluster's state, as a table or -o json."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from rich.markup import escape

from ozymandias.api.paging import MAX_LIMIT
from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    err,
    fail,
    for_machines,
    out,
    print_data,
    show_list,
)
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import (
    allocated_of,
    containers_table,
    events_table,
    ingress_table,
    instances_table,
    instances_text,
    jobs_table,
    labels_text,
    load_of,
    nodes_table,
    styled_state,
    volumes_table,
)
from ozymandias.cli.watch_follow import follow
from ozymandias.labels.selector import matches, parse_selector
from ozymandias.plans.notation import spec_notation
from ozymandias.spec.durations import parse_duration
from ozymandias.spec.models import JobSpec

SelectorOption = Annotated[
    str | None,
    typer.Option(
        "--selector",
        "-l",
        help="Only those whose labels match: key=value, key!=value, key or !key, "
        "joined by commas (all must hold).",
        show_default=False,
    ),
]


ChunkSizeOption = Annotated[
    int,
    typer.Option(
        "--chunk-size",
        min=0,
        max=MAX_LIMIT,
        help="Fetch the list this many items at a time (pages of the API's ?limit=); "
        "0: in one request.",
    ),
]
DEFAULT_CHUNK_SIZE = 500

WatchOption = Annotated[
    bool,
    typer.Option(
        "--watch",
        "-w",
        help="Then print a row per change (ADDED, MODIFIED, DELETED) until Ctrl-C; "
        "-o json: one event per line.",
    ),
]


def selected_by(selector: str | None) -> Callable[[dict[str, Any]], bool]:
    """Whether an item's `labels` match `-l` (everything without one); exit 2 on a bad one."""
    if selector is None:
        return lambda _item: True
    try:
        requirements = parse_selector(selector)
    except ValueError as error:
        raise fail(f"--selector: {error}", code=2) from None
    return lambda item: matches(requirements, item.get("labels", {}))


def get_jobs(
    selector: SelectorOption = None,
    watch: WatchOption = False,
    chunk_size: ChunkSizeOption = DEFAULT_CHUNK_SIZE,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List jobs with their instance counts (-o wide: and their labels).

    Example: ozy get jobs -l team=payments -o wide
    Example: ozy get jobs -w
    Example: ozy get jobs --chunk-size 100
    """
    keep = selected_by(selector)
    if watch:
        return _watch(api, "/v1/jobs", output, jobs_table, "no jobs", keep=keep)
    show_list(api, "/v1/jobs", output, jobs_table, "no jobs", keep=keep, chunk_size=chunk_size)


def get_instances(
    job: Annotated[str | None, typer.Argument(help="Only this job's instances.")] = None,
    selector: SelectorOption = None,
    watch: WatchOption = False,
    chunk_size: ChunkSizeOption = DEFAULT_CHUNK_SIZE,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List instances: node, state, health, restarts and pod IP (-o wide: and why).

    An instance has its job's labels, for -l.

    Example: ozy get instances simple-webapp -o wide
    Example: ozy get instances simple-webapp -w
    Example: ozy get instances --chunk-size 1000
    """
    keep = selected_by(selector)
    params = {"job": job} if job else None
    if watch:
        return _watch(api, "/v1/instances", output, instances_table, "no instances", params, keep)
    show_list(
        api, "/v1/instances", output, instances_table, "no instances", params, keep, chunk_size
    )


def get_ingress(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List ingress routes (HTTP by Host, TCP by port) and their healthy backend counts.

    Example: ozy get ingress
    """
    check_output(output)
    ingress = call(api, "GET", "/v1/ingress")
    if for_machines(output):
        return print_data(output, ingress)
    routes = ingress["http"] or ingress["tcp"]
    print_table(out, ingress_table(ingress, output == "wide") if routes else "no ingress routes")
    for conflict in ingress["conflicts"]:
        err.print(f"[yellow]conflict:[/] {escape(conflict)}", soft_wrap=True)


def get_nodes(
    selector: SelectorOption = None,
    watch: WatchOption = False,
    chunk_size: ChunkSizeOption = DEFAULT_CHUNK_SIZE,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List nodes: status, memory, disk and CPU allocated / capacity, load (-o wide: labels).

    Example: ozy get nodes -l zone=a -o wide
    Example: ozy get nodes -w
    Example: ozy get nodes --chunk-size 100
    """
    keep = selected_by(selector)
    if watch:
        return _watch(api, "/v1/nodes", output, nodes_table, "no nodes", keep=keep)
    show_list(api, "/v1/nodes", output, nodes_table, "no nodes", keep=keep, chunk_size=chunk_size)


def get_volumes(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List volumes: shared ones (kept after their job too) and each instance's local ones.

    Example: ozy get volumes
    """
    show_list(api, "/v1/volumes", output, volumes_table, "no volumes")


def get_events(
    job: Annotated[str | None, typer.Option(help="Only this job's events.")] = None,
    limit: Annotated[
        int, typer.Option(help="Show at most this many, the newest.", min=1, max=1000)
    ] = 100,
    since: Annotated[
        str | None,
        typer.Option(help="Only events this recent: 30s, 10m, 1h.", show_default=False),
    ] = None,
    watch: WatchOption = False,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Recent events, oldest first (events are kept for about an hour).

    Example: ozy get events --job web --since 10m
    Example: ozy get events -w
    """
    params: dict[str, str] = {"limit": str(limit)}
    if job:
        params["job"] = job
    if since is not None:
        try:
            params["since"] = str(time.time() - parse_duration(since))
        except ValueError as error:
            raise fail(f"--since: {error}", code=2) from None
    if watch:
        # An event leaving after its hour is no news: only -o json shows it.
        return _watch(
            api, "/v1/events", output, events_table, "no events", params, show_deleted=False
        )
    show_list(api, "/v1/events", output, events_table, "no events", params)


def _watch(
    api: str,
    path: str,
    output: str,
    table: Callable[[list[dict[str, Any]], bool], Any],
    empty: str,
    params: dict[str, str] | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda _item: True,
    *,
    show_deleted: bool = True,
) -> None:
    check_output(output)
    follow(api, path, output, table, empty, params, keep, show_deleted=show_deleted)


def describe_job(
    name: Annotated[str, typer.Argument(help="Job name.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """A job's spec, placements and recent events.

    Example: ozy describe job simple-webapp
    """
    check_output(output)
    job = call(api, "GET", f"/v1/jobs/{name}")
    if for_machines(output):
        return print_data(output, job)
    out.print(
        f"[bold]Job[/] {job['name']}  version {job['version']}  instances {instances_text(job)}"
        f"  priority {job.get('priority', 50)}",
        soft_wrap=True,
    )
    out.print("\n[bold]Spec[/]")
    # As text, unwrapped: YAML's flow lists (`[sleep, '3600']`) look like markup to rich, and
    # a folded line would not paste back as the same YAML.
    spec = yaml.safe_dump(_as_written(job["spec"]), sort_keys=False).rstrip()
    out.print(spec, markup=False, highlight=False, soft_wrap=True)
    out.print("\n[bold]Instances[/]")
    print_table(out, instances_table(job["instances"], wide=True) if job["instances"] else "none")
    _print_events(job["events"])


def _as_written(spec: dict[str, Any]) -> dict[str, Any]:
    """The API's spec in its user's notation (64M, "80:3000", no defaults); as the API gave it
    if this client cannot read it (an API newer than the client)."""
    try:
        return spec_notation(JobSpec.model_validate(spec))
    except ValidationError:
        return spec


def describe_instance(
    name: Annotated[str, typer.Argument(help="Instance name: <job>-<index>.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """One instance: its node, state, health, reason, containers and recent events.

    Example: ozy describe instance simple-webapp-0
    """
    check_output(output)
    job = name.rpartition("-")[0]
    found = [i for i in call(api, "GET", "/v1/instances", params={"job": job}) if i["name"] == name]
    if not job or not found:
        raise fail(f"there is no instance {name!r}; instances are named <job>-<index>")
    events = call(api, "GET", "/v1/events", params={"job": job, "limit": "1000"})
    instance = {**found[0], "events": [e for e in events if e["instance"] == name][-20:]}
    if for_machines(output):
        return print_data(output, instance)
    out.print(
        f"[bold]Instance[/] {name}  job {job}  node {instance['node'] or '-'}  "
        f"version {instance['specVersion'] or '-'}  pod IP {instance['podIP'] or '-'}",
        soft_wrap=True,
    )
    out.print(
        f"state {styled_state(instance['state'])}  health {styled_state(instance['health'] or '-')}"
        f"  restarts {instance['restarts']}"
    )
    if instance["reason"]:
        out.print(f"reason: {escape(instance['reason'])}", soft_wrap=True)
    out.print("\n[bold]Containers[/]")
    containers = instance["containers"]
    print_table(out, containers_table(containers) if containers else "none yet")
    _print_events(instance["events"])


def describe_node(
    name: Annotated[str, typer.Argument(help="Node name.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """One node: address, labels, capacity and what is allocated, its instances and events.

    Example: ozy describe node n1
    """
    check_output(output)
    found = [node for node in call(api, "GET", "/v1/nodes") if node["name"] == name]
    if not found:
        raise fail(f"there is no live node {name!r} (`ozy get nodes` lists them)")
    instances = [i for i in call(api, "GET", "/v1/instances") if i["node"] == name]
    events = call(api, "GET", "/v1/events", params={"limit": "1000"})
    node = {
        **found[0],
        "instances": instances,
        "events": [e for e in events if e["node"] == name][-20:],
    }
    if for_machines(output):
        return print_data(output, node)
    labels = labels_text(node["labels"])
    status = "cordoned" if node["cordoned"] else "ready"
    out.print(
        f"[bold]Node[/] {name}  {status}  address {node['address']}  API {node['apiUrl']}",
        soft_wrap=True,
    )
    out.print(f"labels {escape(labels)}", highlight=False, soft_wrap=True)
    out.print(
        f"memory {allocated_of(node, 'memory')}  disk {allocated_of(node, 'disk')}"
        f"  cpu {allocated_of(node, 'cpu')}  (allocated / capacity)"
    )
    out.print(
        f"load {load_of(node)} per core (1 minute; new instances go elsewhere first above "
        f"{node['loadThreshold']})"
    )
    out.print("\n[bold]Instances[/]")
    print_table(out, instances_table(instances, wide=True) if instances else "none")
    _print_events(node["events"])


def _print_events(events: list[dict[str, Any]]) -> None:
    out.print("\n[bold]Events[/]")
    print_table(out, events_table(events) if events else "none")
