"""`ozy`: the command line for Ozymandias."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from ozymandias.cli.api_client import DEFAULT_API, ApiClient, ApiError
from ozymandias.spec.loader import SpecError, load_job
from ozymandias.spec.sizes import format_size, parse_size

app = typer.Typer(
    help="Ozymandias: run jobs of podman pods on a cluster of peer nodes coordinated through etcd.",
    no_args_is_help=True,
    add_completion=False,
)
get_app = typer.Typer(
    help="List jobs, instances, nodes, volumes, events or ingress routes.", no_args_is_help=True
)
describe_app = typer.Typer(help="Show one object in detail.", no_args_is_help=True)
alias_app = typer.Typer(
    help="DNS aliases: a name in the cluster domain over jobs, pods, nodes or other aliases.",
    no_args_is_help=True,
)
app.add_typer(get_app, name="get")
app.add_typer(describe_app, name="describe")
app.add_typer(alias_app, name="alias")

out = Console()
err = Console(stderr=True)

ApiOption = Annotated[
    str,
    typer.Option("--api", envvar="OZY_API", help="Base URL of any node's API."),
]
OutputOption = Annotated[str, typer.Option("--output", "-o", help="table, or json for machines.")]
DEFAULT_WAIT_SECONDS = 120.0


def _client(api: str) -> ApiClient:
    return ApiClient(api)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _call(api: str, method: str, path: str, **kwargs: Any) -> Any:
    client = _client(api)
    try:
        return client.request(method, path, **kwargs)
    except ApiError as error:
        raise _fail(str(error)) from None
    finally:
        client.close()


def _print_json(data: Any) -> None:
    out.print_json(json.dumps(data))


def _check_output(output: str) -> None:
    if output not in ("table", "json"):
        raise _fail(f"--output must be table or json, not {output!r}", code=2)


# Cluster lifecycle


@app.command()
def up(
    detach: Annotated[
        bool,
        typer.Option(
            "--detach", "-d", help="Run in the background and return once the API answers."
        ),
    ] = False,
    etcd: Annotated[
        str | None, typer.Option(help="Use this etcd instead of starting an embedded one.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where etcd data, logs and node state live (default ~/.local/share/ozymandias)."
        ),
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of the node's HTTP API on 127.0.0.1.")] = 7070,
    etcd_port: Annotated[
        int, typer.Option(help="Client port of the embedded etcd (its peer port is the next one).")
    ] = 2379,
    name: Annotated[str | None, typer.Option(help="Node name (default: this host's name).")] = None,
    ingress_port: Annotated[
        int, typer.Option(help="HTTP ingress port: http://<job>.localhost:<port>/ reaches a job.")
    ] = 8080,
) -> None:
    """Start a one-node cluster: an embedded etcd on loopback plus a node daemon.

    Idempotent: with --detach, a cluster that is already up is left as it is.
    """
    from ozymandias.local_cluster.one_node import (
        LocalClusterConfig,
        run_in_foreground,
        start_detached,
    )

    config = LocalClusterConfig(
        etcd=etcd, api_port=api_port, etcd_port=etcd_port, ingress_port=ingress_port
    )
    if data_dir is not None:
        config.data_root = data_dir
    if name is not None:
        config.node_name = name
    if not detach:
        _configure_logging()
        run_in_foreground(config)
        return
    try:
        started = start_detached(config, progress=lambda line: err.print(f"[dim]…[/] {line}"))
    except RuntimeError as error:
        raise _fail(str(error)) from None
    state = "started" if started else "already running"
    out.print(f"cluster {state}: API at {config.api_url} (export OZY_API={config.api_url})")


@app.command()
def down(
    data_dir: Annotated[Path | None, typer.Option(help="The --data-dir given to `ozy up`.")] = None,
) -> None:
    """Stop what `ozy up --detach` started: pods, node and etcd. The data dir is kept."""
    from ozymandias.local_cluster.one_node import LocalClusterConfig, stop_detached

    config = LocalClusterConfig()
    if data_dir is not None:
        config.data_root = data_dir
    stopped = stop_detached(config, progress=lambda line: err.print(f"[dim]…[/] {line}"))
    out.print("cluster stopped" if stopped else "no cluster was running")


node_app = typer.Typer(
    help="Run a node daemon (`ozy node --name N --etcd URL`), or cordon and uncordon nodes.",
    invoke_without_command=True,
)
app.add_typer(node_app, name="node")


@node_app.callback()
def node(
    context: typer.Context,
    name: Annotated[
        str | None, typer.Option(help="This node's unique name (a DNS label). Required to run one.")
    ] = None,
    etcd: Annotated[
        str,
        typer.Option(
            help="etcd client URL, e.g. http://10.0.0.1:2379; several members: join with ','."
        ),
    ] = "http://127.0.0.1:2379",
    labels: Annotated[str, typer.Option(help="Node labels, e.g. zone=a,region=r1.")] = "",
    memory: Annotated[
        str | None, typer.Option(help="Memory to offer, e.g. 8G (default: 90% of the host's).")
    ] = None,
    disk: Annotated[
        str | None, typer.Option(help="Disk to offer, e.g. 50G (default: 90% of free space).")
    ] = None,
    shared_storage: Annotated[
        Path | None,
        typer.Option(
            help="Directory where this node's zone mounts its shared storage (e.g. one NFS "
            "export for every node labelled with the same zone); shared volumes live there."
        ),
    ] = None,
    shared_capacity: Annotated[
        str | None,
        typer.Option(
            help="Shared storage the zone's shared volumes may take, e.g. 100G "
            "(default: 90% of the --shared-storage filesystem)."
        ),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Address peers reach this node on (default: the one facing etcd)."),
    ] = None,
    api_host: Annotated[str, typer.Option(help="Interface the API listens on.")] = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="Port the API listens on.")] = 7070,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Node state (lease id); default ~/.local/share/ozymandias/nodes/NAME."),
    ] = None,
    lease_ttl: Annotated[
        int, typer.Option(help="Seconds without a heartbeat before peers consider this node dead.")
    ] = 5,
    fence_after: Annotated[
        float | None,
        typer.Option(
            help="Seconds without reaching etcd before this node stops its pods, as peers may "
            "be re-placing them (default: the lease TTL)."
        ),
    ] = None,
    pod_subnet: Annotated[
        str | None,
        typer.Option(
            help="This node's pod subnet, inside --cluster-cidr "
            "(default: lease a free /24 of it from etcd)."
        ),
    ] = None,
    network_backend: Annotated[
        str,
        typer.Option(
            help="How pods reach other nodes' pods: host-gw (one L2 segment) or vxlan. "
            "Ignored where flannel runs (/run/flannel/subnet.env)."
        ),
    ] = "host-gw",
    cluster_cidr: Annotated[
        str, typer.Option(help="The cluster's pod range (blackholed on the host before use).")
    ] = "10.213.0.0/16",
    dns_port: Annotated[
        int, typer.Option(help="Port of the DNS server on 127.0.0.1 (pods use port 53).")
    ] = 5353,
    dns_domain: Annotated[
        str, typer.Option(help="The cluster's DNS domain, served by every node.")
    ] = "cluster.local",
    ingress_port: Annotated[
        int, typer.Option(help="HTTP ingress port, on every address: routes by Host header.")
    ] = 80,
) -> None:
    """Run a node daemon that joins an existing etcd."""
    import uvloop

    from ozymandias.node import NodeConfig, NodeDaemon

    if context.invoked_subcommand is not None:
        return
    if name is None:
        raise _fail("--name is required to run a node daemon (see ozy node --help)", code=2)
    try:
        config = NodeConfig(
            name=name,
            etcd=etcd,
            labels=_parse_labels(labels),
            memory=parse_size(memory) if memory else None,
            disk=parse_size(disk) if disk else None,
            shared_storage=shared_storage,
            shared_capacity=parse_size(shared_capacity) if shared_capacity else None,
            address=address,
            api_host=api_host,
            api_port=api_port,
            data_dir=data_dir,
            lease_ttl=lease_ttl,
            fence_after=fence_after,
            pod_subnet=pod_subnet,
            network_backend=network_backend,
            cluster_cidr=cluster_cidr,
            dns_port=dns_port,
            dns_domain=dns_domain.strip(".").lower(),
            ingress_port=ingress_port,
        )
    except ValueError as error:
        raise _fail(str(error), code=2) from None
    _configure_logging()
    # uvloop: the DNS server answers about four times as many queries per second on it.
    uvloop.run(NodeDaemon(config).run())


@node_app.command("cordon")
def cordon(
    name: Annotated[str, typer.Argument(help="Node name.")], api: ApiOption = DEFAULT_API
) -> None:
    """Place no new instances on a node; the instances it runs stay."""
    _call(api, "POST", f"/v1/nodes/{name}/cordon")
    out.print(f"node {name} cordoned")


@node_app.command("uncordon")
def uncordon(
    name: Annotated[str, typer.Argument(help="Node name.")], api: ApiOption = DEFAULT_API
) -> None:
    """Let a cordoned node take new instances again."""
    _call(api, "POST", f"/v1/nodes/{name}/uncordon")
    out.print(f"node {name} uncordoned")


# Jobs


@app.command()
def apply(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Job spec (YAML or JSON); - for stdin.")
    ],
    api: ApiOption = DEFAULT_API,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the placement without committing it.")
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Return once committed, without waiting for instances."),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every instance to run.")
    ] = DEFAULT_WAIT_SECONDS,
) -> None:
    """Submit a job, or update it, and wait until every instance runs."""
    text = sys.stdin.read() if str(file) == "-" else _read(file)
    try:
        spec = load_job(text)
    except SpecError as error:
        raise _fail(f"{file} is not a valid job:\n{error}", code=2) from None
    path = f"/v1/jobs/{spec.name}"
    if dry_run:
        result = _call(api, "POST", path, params={"dryRun": "true"}, content=text, headers=_yaml)
        out.print(
            f"job {spec.name} would place {len(result['placed'])} "
            f"and stop {len(result['stopped'])} instance(s):"
        )
        for index, node_name in result["placements"].items():
            out.print(f"  {spec.name}-{index} → {node_name}")
        return
    result = _call(api, "PUT", path, content=text, headers=_yaml)
    verb = "created" if result["created"] else ("updated" if result["changed"] else "unchanged")
    out.print(
        f"job {spec.name} {verb} "
        f"(version {result['version']}, {result['numInstances']} instance(s))"
    )
    if not no_wait:
        _wait_for_instances(api, spec.name, result["version"], timeout)


@app.command()
def scale(
    job: Annotated[str, typer.Argument(help="Job name.")],
    instances: Annotated[int, typer.Argument(help="The new number of instances.", min=0)],
    api: ApiOption = DEFAULT_API,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once committed.")] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every instance to run.")
    ] = DEFAULT_WAIT_SECONDS,
) -> None:
    """Change a job's number of instances."""
    result = _call(api, "POST", f"/v1/jobs/{job}/scale", json={"numInstances": instances})
    out.print(
        f"job {job} scaled to {instances}: "
        f"{len(result['placed'])} placed, {len(result['stopped'])} stopped"
    )
    if not no_wait:
        _wait_for_instances(api, job, result["version"], timeout)


@app.command()
def delete(
    job: Annotated[str, typer.Argument(help="Job name; or `volume` to delete a volume.")],
    volume: Annotated[
        str | None, typer.Argument(help="With `volume`: the shared volume, as JOB/NAME.")
    ] = None,
    purge_volumes: Annotated[
        bool, typer.Option(help="Also remove the job's shared volumes (kept by default).")
    ] = False,
    forget: Annotated[
        bool,
        typer.Option(
            help="With `volume`: drop the volume's record now and free its space, leaving its"
            " data on its zone's storage (for a zone no live node reaches any more)."
        ),
    ] = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Delete a job (`ozy delete JOB`), or a kept shared volume (`ozy delete volume JOB/NAME`).

    A job's nodes stop and remove its pods and local volumes. Its shared
    volumes stay, so a job re-created with the same name gets its data back;
    `--purge-volumes` removes them too. A shared volume is removed by a node
    of its zone; if none is left, `--forget` lets it go without its data.
    """
    if volume is not None:
        if job != "volume":
            raise _fail("use `ozy delete JOB` or `ozy delete volume JOB/NAME`", code=2)
        _delete_volume(api, volume, forget=forget)
        return
    if forget:
        raise _fail("--forget is for `ozy delete volume JOB/NAME`", code=2)
    result = _call(
        api, "DELETE", f"/v1/jobs/{job}", params={"purgeVolumes": "true"} if purge_volumes else {}
    )
    out.print(f"job {job} deleted")
    for purged in result.get("purgedVolumes", []):
        out.print(f"removing shared volume {purged}")
    for kept in result.get("keptVolumes", []):
        out.print(f"kept shared volume {kept} (remove it with `ozy delete volume {kept}`)")


def _delete_volume(api: str, full_name: str, *, forget: bool) -> None:
    job, slash, name = full_name.partition("/")
    if not slash or not job or not name or "/" in name:
        raise _fail(f"a shared volume is named JOB/NAME, not {full_name!r}", code=2)
    params = {"forget": "true"} if forget else {}
    result = _call(api, "DELETE", f"/v1/volumes/{job}/{name}", params=params)
    if forget:
        out.print(
            f"shared volume {full_name} forgotten: its {format_size(result['size'])} in"
            f" {result['where']} are free again; its data stays on that storage"
        )
        return
    out.print(f"shared volume {full_name} is being removed by a node of {result['where']}")
    if not result["reachable"]:
        err.print(
            f"[yellow]warning:[/] no live node reaches {result['where']}'s shared storage;"
            " the volume is removed once one does (or `--forget` it, leaving its data there)"
        )


@app.command()
def logs(
    instance: Annotated[str, typer.Argument(help="Instance name, e.g. simple-webapp-0.")],
    container: Annotated[
        str | None, typer.Option("--container", "-c", help="Container (default: the job's first).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming new output.")
    ] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Print a container's output, from whichever node runs the instance."""
    params: dict[str, Any] = {"follow": follow}
    if container:
        params["container"] = container
    if tail is not None:
        params["tail"] = tail
    client = _client(api)
    try:
        for chunk in client.stream_text(f"/v1/instances/{instance}/logs", params):
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except ApiError as error:
        raise _fail(str(error)) from None
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


@app.command()
def demo(
    file: Annotated[Path, typer.Option("--file", "-f", help="The job to deploy.")] = Path(
        "examples/simple-webapp.yaml"
    ),
    api_port: Annotated[int, typer.Option(help="Port of the node's API.")] = 7070,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every instance.")
    ] = DEFAULT_WAIT_SECONDS,
) -> None:
    """Start a one-node cluster (if needed), deploy the example job and show it running."""
    from ozymandias.local_cluster.one_node import LocalClusterConfig, start_detached

    config = LocalClusterConfig(api_port=api_port)
    try:
        start_detached(config, progress=lambda line: err.print(f"[dim]…[/] {line}"))
    except RuntimeError as error:
        raise _fail(str(error)) from None
    out.print(f"cluster up: API at {config.api_url}")
    apply(file=file, api=config.api_url, dry_run=False, no_wait=False, timeout=timeout)
    spec = load_job(_read(file))
    instances = _call(config.api_url, "GET", "/v1/instances", params={"job": spec.name})
    out.print(_instances_table(instances))
    first_port = next((p for c in spec.containers.values() for p in c.ports), None)
    if first_port is not None:
        out.print("\nReach it from this host:")
        out.print(f"  curl http://{spec.name}.localhost:{config.ingress_port}/   (ingress)")
        for item in instances:
            if item["podIP"]:
                out.print(
                    f"  curl http://{item['podIP']}:{first_port.cluster_port}/   ({item['name']})"
                )
        out.print(f"  dig @127.0.0.1 -p 5353 {spec.name}.job.cluster.local   (healthy instances)")
    out.print(
        f"\nTry: ozy get jobs · ozy describe job {spec.name} · ozy scale {spec.name} 5 · "
        f"ozy logs {spec.name}-0 -c app · ozy delete {spec.name} · ozy down"
    )


# Reading state


@get_app.command("jobs")
def get_jobs(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List jobs with their instance counts."""
    _check_output(output)
    jobs = _call(api, "GET", "/v1/jobs")
    if output == "json":
        return _print_json(jobs)
    table = Table("NAME", "INSTANCES", "RUNNING", "STATES", "VERSION", box=None)
    for job in jobs:
        states = ", ".join(f"{state} {count}" for state, count in job["states"].items())
        table.add_row(
            job["name"], str(job["numInstances"]), str(job["running"]), states, str(job["version"])
        )
    out.print(table if jobs else "no jobs")


@get_app.command("instances")
def get_instances(
    job: Annotated[str | None, typer.Argument(help="Only this job's instances.")] = None,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List instances: node, state, health, restarts and pod IP."""
    _check_output(output)
    instances = _call(api, "GET", "/v1/instances", params={"job": job} if job else {})
    if output == "json":
        return _print_json(instances)
    out.print(_instances_table(instances) if instances else "no instances")


@get_app.command("ingress")
def get_ingress(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List ingress routes (HTTP by Host, TCP by port) and their healthy backend counts."""
    _check_output(output)
    ingress = _call(api, "GET", "/v1/ingress")
    if output == "json":
        return _print_json(ingress)
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
    out.print(table if ingress["http"] or ingress["tcp"] else "no ingress routes")
    for conflict in ingress["conflicts"]:
        err.print(f"[yellow]conflict:[/] {conflict}")


@get_app.command("nodes")
def get_nodes(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List nodes with labels, and memory and disk allocated against capacity."""
    _check_output(output)
    nodes = _call(api, "GET", "/v1/nodes")
    if output == "json":
        return _print_json(nodes)
    table = Table(
        "NAME", "STATUS", "ADDRESS", "LABELS", "MEMORY (ALLOC/CAP)", "DISK (ALLOC/CAP)", box=None
    )
    for item in nodes:
        labels = ",".join(f"{k}={v}" for k, v in sorted(item["labels"].items())) or "-"
        table.add_row(
            item["name"],
            "cordoned" if item["cordoned"] else "ready",
            item["address"],
            labels,
            _allocated_of(item, "memory"),
            _allocated_of(item, "disk"),
        )
    out.print(table if nodes else "no nodes")


@get_app.command("volumes")
def get_volumes(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List volumes: shared ones (kept after their job too) and each instance's local ones."""
    _check_output(output)
    volumes = _call(api, "GET", "/v1/volumes")
    if output == "json":
        return _print_json(volumes)
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
    out.print(table if volumes else "no volumes")


@get_app.command("events")
def get_events(
    job: Annotated[str | None, typer.Option(help="Only this job's events.")] = None,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Recent events (the last hour or so)."""
    _check_output(output)
    events = _call(api, "GET", "/v1/events", params={"job": job} if job else {})
    if output == "json":
        return _print_json(events)
    out.print(_events_table(events) if events else "no events")


@describe_app.command("job")
def describe_job(
    name: Annotated[str, typer.Argument(help="Job name.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """A job's spec, placements and recent events."""
    _check_output(output)
    job = _call(api, "GET", f"/v1/jobs/{name}")
    if output == "json":
        return _print_json(job)
    out.print(
        f"[bold]Job[/] {job['name']}  version {job['version']}  instances {job['numInstances']}"
    )
    out.print("\n[bold]Spec[/]")
    out.print(yaml.safe_dump(job["spec"], sort_keys=False).rstrip(), highlight=False)
    out.print("\n[bold]Instances[/]")
    out.print(_instances_table(job["instances"]) if job["instances"] else "none")
    out.print("\n[bold]Events[/]")
    out.print(_events_table(job["events"]) if job["events"] else "none")


# DNS aliases


@alias_app.command("set")
def alias_set(
    name: Annotated[str, typer.Argument(help="Alias, e.g. frontend (in the cluster domain).")],
    targets: Annotated[list[str], typer.Argument(help="Names, e.g. web.job db-0.pod other.")],
    api: ApiOption = DEFAULT_API,
) -> None:
    """Create or replace an alias; it resolves to the union of its healthy targets."""
    alias = _call(api, "PUT", f"/v1/dns/aliases/{name}", json={"targets": targets})
    out.print(f"alias {alias['name']} → {', '.join(alias['targets'])}")


@alias_app.command("get")
def alias_get(
    name: Annotated[str, typer.Argument(help="Alias.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Show one alias's targets."""
    _check_output(output)
    alias = _call(api, "GET", f"/v1/dns/aliases/{name}")
    if output == "json":
        return _print_json(alias)
    out.print(_aliases_table([alias]))


@alias_app.command("list")
def alias_list(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List every alias."""
    _check_output(output)
    aliases = _call(api, "GET", "/v1/dns/aliases")
    if output == "json":
        return _print_json(aliases)
    out.print(_aliases_table(aliases) if aliases else "no aliases")


@alias_app.command("delete")
def alias_delete(
    name: Annotated[str, typer.Argument(help="Alias.")], api: ApiOption = DEFAULT_API
) -> None:
    """Delete an alias."""
    deleted = _call(api, "DELETE", f"/v1/dns/aliases/{name}")
    out.print(f"alias {deleted['name']} deleted")


# Helpers for the commands above


_yaml = {"content-type": "application/yaml"}


def _read(file: Path) -> str:
    try:
        return file.read_text()
    except OSError as error:
        raise _fail(f"cannot read {file}: {error.strerror}", code=2) from None


def _parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"label {item!r} is not KEY=VALUE")
        labels[key] = value
    return labels


def _allocated_of(node: dict[str, Any], resource: str) -> str:
    allocated, capacity = node["allocated"][resource], node["capacity"][resource]
    return f"{format_size(allocated)} / {format_size(capacity)}"


def _instances_table(instances: list[dict[str, Any]]) -> Table:
    table = Table(
        "INSTANCE", "NODE", "STATE", "HEALTH", "VERSION", "RESTARTS", "POD IP", "REASON", box=None
    )
    # The name is what a user types next (`ozy logs NAME`): never cut it short.
    table.columns[0].min_width = max((len(item["name"]) for item in instances), default=8)
    for item in instances:
        table.add_row(
            item["name"],
            item["node"] or "-",
            _styled_state(item["state"]),
            _styled_state(item.get("health") or "-"),
            str(item.get("specVersion") or "-"),
            str(item["restarts"]),
            item["podIP"] or "-",
            item["reason"],
        )
    return table


def _aliases_table(aliases: list[dict[str, Any]]) -> Table:
    table = Table("ALIAS", "TARGETS", box=None)
    for alias in aliases:
        table.add_row(alias["name"], ", ".join(alias["targets"]))
    return table


def _events_table(events: list[dict[str, Any]]) -> Table:
    table = Table("TIME", "KIND", "INSTANCE", "NODE", "MESSAGE", box=None)
    for event in events:
        table.add_row(
            time.strftime("%H:%M:%S", time.localtime(event["time"])),
            event["kind"],
            event["instance"] or event["job"] or "-",
            event["node"] or "-",
            event["message"],
        )
    return table


def _styled_state(state: str) -> str:
    colour = {
        "running": "green",
        "healthy": "green",
        "failed": "red",
        "unhealthy": "red",
        "exited": "yellow",
        "stopping": "yellow",
    }.get(state, "cyan")
    return f"[{colour}]{state}[/]"


def _wait_for_instances(api: str, job: str, version: int, timeout: float) -> None:
    """Show progress until every instance runs `version` of the job's spec, or one fails,
    or time runs out (a new spec rolls out one instance at a time)."""
    deadline = time.monotonic() + timeout
    last_line = ""
    with err.status(f"waiting for {job}…") as status:
        while True:
            instances = _call(api, "GET", "/v1/instances", params={"job": job})
            states = [
                item["state"] if item.get("specVersion") in (0, version) else "old-version"
                for item in instances
            ]
            line = f"{job}: {states.count('running')}/{len(instances)} running"
            if "old-version" in states:
                line += f" ({states.count('old-version')} still to update to version {version})"
            if line != last_line:
                status.update(line)
                last_line = line
            # Only the version just submitted is judged: an older one's failure
            # (the very one this apply fixes) is not this apply's outcome.
            broken = [
                item
                for item in instances
                if item.get("specVersion") == version and item["state"] in ("failed", "exited")
            ]
            if broken:
                err.print(_instances_table(instances))
                raise _fail(
                    f"{len(broken)} instance(s) of {job} did not start: {broken[0]['reason']}"
                )
            if all(state == "running" for state in states):
                break
            if time.monotonic() > deadline:
                err.print(_instances_table(instances))
                raise _fail(f"not every instance of {job} was running after {timeout:.0f}s")
            time.sleep(0.3)
    out.print(f"{line}")


def _configure_logging() -> None:
    level = os.environ.get("OZY_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":
    app()
