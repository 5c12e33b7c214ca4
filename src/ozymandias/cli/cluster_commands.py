"""`ozy up`, `ozy down` and `ozy demo`: the detached one-node cluster on this host."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from secrets import token_urlsafe
from typing import Annotated

import typer

from ozymandias.cli.app import (
    DEFAULT_WAIT_SECONDS,
    YesOption,
    call,
    confirm_destroying,
    fail,
    out,
    read_text,
    show_progress,
)
from ozymandias.cli.apply_verdict import SETTLE_SECONDS
from ozymandias.cli.daemon_options import LogFormatOption, configure_logging
from ozymandias.cli.job_commands import apply
from ozymandias.cli.node_run import ClusterCidrOption, PodSubnetOption
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import instances_table
from ozymandias.logs.setup import last_words_logged
from ozymandias.network.subnets import DEFAULT_CLUSTER_CIDR
from ozymandias.spec.loader import load_job


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
    kube_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="Port of the Kubernetes API on 127.0.0.1 (kubectl); 0: none."
        ),
    ] = 6443,
    etcd_port: Annotated[
        int, typer.Option(help="Client port of the embedded etcd (its peer port is the next one).")
    ] = 2379,
    name: Annotated[str | None, typer.Option(help="Node name (default: this host's name).")] = None,
    ingress_port: Annotated[
        int, typer.Option(help="HTTP ingress port: http://<job>.localhost:<port>/ reaches a job.")
    ] = 8080,
    pod_subnet: PodSubnetOption = None,
    cluster_cidr: ClusterCidrOption = DEFAULT_CLUSTER_CIDR,
    log_format: LogFormatOption = "text",
) -> None:
    """Start a one-node cluster: an embedded etcd on loopback plus a node daemon.

    Idempotent: with --detach, a cluster that is already up is left as it is.
    It makes the cluster's first admin token and saves it where the CLI looks.

    Example: ozy up --detach
    """
    from ozymandias.local_cluster.one_node import (
        LocalClusterConfig,
        run_in_foreground,
        start_detached,
    )

    config = LocalClusterConfig(
        etcd=etcd,
        api_port=api_port,
        kube_port=kube_port,
        etcd_port=etcd_port,
        ingress_port=ingress_port,
        pod_subnet=pod_subnet,
        cluster_cidr=cluster_cidr,
        log_format=log_format,
    )
    if data_dir is not None:
        config.data_root = data_dir
    if name is not None:
        config.node_name = name
    if not detach:
        configure_logging(log_format, config.node_name)
        with last_words_logged(log_format):
            run_in_foreground(config)
        return
    try:
        started = start_detached(config, progress=show_progress)
    except RuntimeError as error:
        raise fail(str(error)) from None
    state = "started" if started else "already running"
    # One line, never folded: the user copies the export from it.
    out.print(
        f"cluster {state}: API at {config.api_url} (export OZY_API={config.api_url})",
        highlight=False,
        soft_wrap=True,
    )
    _print_dashboard(config.api_url)


def down(
    data_dir: Annotated[Path | None, typer.Option(help="The --data-dir given to `ozy up`.")] = None,
    volumes: Annotated[
        bool,
        typer.Option(
            "--volumes", help="Also remove the instances' local volumes (asks first; --yes)."
        ),
    ] = False,
    yes: YesOption = False,
) -> None:
    """Stop what `ozy up --detach` started: pods, node and etcd.

    Kept, for the next `ozy up`: the data dir (etcd's data, so jobs, tokens and
    events), the instances' local volumes (the same instances come back on
    this node), and shared volumes. `--volumes` removes the local volumes;
    shared volumes go with `ozy delete JOB --purge-volumes` or
    `ozy delete volume`. The token file in ~/.config/ozymandias stays.

    Example: ozy down --volumes --yes
    """
    from ozymandias.local_cluster.one_node import (
        LocalClusterConfig,
        remove_local_volumes,
        stop_detached,
    )

    config = LocalClusterConfig()
    if data_dir is not None:
        config.data_root = data_dir
    if volumes:
        confirm_destroying(f"removing the local volumes under {config.data_root}", yes=yes)
    stopped = stop_detached(config, progress=show_progress)
    out.print("cluster stopped" if stopped else "no cluster was running")
    if volumes:
        try:
            removed = remove_local_volumes(config)
        except RuntimeError as error:
            raise fail(str(error)) from None
        out.print(f"removed the local volumes of {removed} instance(s)")


def demo(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="The job to deploy (default: the example web app, shipped with ozy).",
            show_default=False,
        ),
    ] = None,
    api_port: Annotated[int, typer.Option(help="Port of the node's API.")] = 7070,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every instance.")
    ] = DEFAULT_WAIT_SECONDS,
) -> None:
    """Start a one-node cluster (if needed), deploy the example job and show it healthy.

    Example: ozy demo
    """
    with as_file(files("ozymandias") / "examples" / "simple-webapp.yaml") as example:
        _demo(file or example, api_port, timeout)


def _demo(file: Path, api_port: int, timeout: float) -> None:
    from ozymandias.local_cluster.one_node import LocalClusterConfig, start_detached

    config = LocalClusterConfig(api_port=api_port)
    try:
        start_detached(config, progress=show_progress)
    except RuntimeError as error:
        raise fail(str(error)) from None
    out.print(f"cluster up: API at {config.api_url}")
    _demo_secret(config.api_url)
    apply(
        file=file,
        api=config.api_url,
        dry_run=False,
        check_index=None,
        detach=False,
        timeout=timeout,
        settle=SETTLE_SECONDS,
    )
    spec = load_job(read_text(file))
    instances = call(config.api_url, "GET", "/v1/instances", params={"job": spec.name})
    print_table(out, instances_table(instances))
    first_port = next((p for c in spec.containers.values() for p in c.ports), None)
    if first_port is not None:
        out.print("\nReach it from this host:")
        # Commands to copy: each on one line, never folded.
        out.print(
            f"  curl http://{spec.name}.localhost:{config.ingress_port}/   (ingress)",
            highlight=False,
            soft_wrap=True,
        )
        for item in instances:
            if item["podIP"]:
                out.print(
                    f"  curl http://{item['podIP']}:{first_port.cluster_port}/   ({item['name']})",
                    highlight=False,
                    soft_wrap=True,
                )
        out.print(
            f"  dig @127.0.0.1 -p 5353 {spec.name}.job.cluster.local   (healthy instances)",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"\nTry: ozy get jobs · ozy describe job {spec.name} · ozy scale {spec.name} 5 · "
        f"ozy logs {spec.name}-0 -c app · ozy delete {spec.name} · ozy down",
        highlight=False,
        soft_wrap=True,
    )
    _print_dashboard(config.api_url)


def _print_dashboard(api: str) -> None:
    """How to get a token into the dashboard, then its address: the last line printed."""
    from ozymandias.client_config import token_file

    out.print(
        f"\nThe dashboard asks for a token: paste the admin token (cat {token_file()}),"
        " or a read-only one (ozy token create --name me --role read).",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"{api}/ui/", highlight=False, soft_wrap=True)


def _demo_secret(api: str) -> None:
    """The example job's database password, as a secret: made once, with a random password."""
    if any(secret["name"] == "db" for secret in call(api, "GET", "/v1/secrets")):
        return
    password = token_urlsafe(18)
    data = {"password": password, "url": f"postgresql://webapp:{password}@localhost/webapp"}
    call(api, "PUT", "/v1/secrets/db", json={"data": data})
    out.print(
        "secret db made: a random database password (`ozy secret get db` shows its keys)",
        soft_wrap=True,
    )
