"""`ozy node run`: run a node daemon.

It imports only what the daemon runs, not the rest of the CLI (rich's consoles, the
other commands): cli/main.py starts it straight from `ozy node run`, so a node's
memory does not carry the whole command line (see daemon_entry.py).
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated

import typer

from ozymandias.cli import node_limits as limits
from ozymandias.cli import node_security as security
from ozymandias.cli.daemon_options import LogFormatOption, configure_logging, fail
from ozymandias.ingress.port_range import parse_port_range
from ozymandias.logs.setup import last_words_logged
from ozymandias.network.subnets import DEFAULT_CLUSTER_CIDR
from ozymandias.spec.sizes import parse_size
from ozymandias.tls.contexts import client_context

# `ozy up` takes these too.
PodSubnetOption = Annotated[
    str | None,
    typer.Option(
        help="This node's pod subnet, inside --cluster-cidr (default: lease a free /24 of it "
        "from etcd, avoiding subnets this host already uses).",
        show_default=False,
    ),
]
ClusterCidrOption = Annotated[
    str, typer.Option(help="The cluster's pod range (blackholed on the host before use).")
]

def run(
    name: Annotated[
        str, typer.Option(help="This node's unique name (a DNS label).", show_default=False)
    ],
    etcd: Annotated[
        str,
        typer.Option(
            help="etcd client URL, e.g. http://10.0.0.1:2379; several members: join with ','. "
            "https:// URLs reach etcd over TLS (see --etcd-cacert)."
        ),
    ] = "http://127.0.0.1:2379",
    labels: Annotated[str, typer.Option(help="Node labels, e.g. zone=a,region=r1.")] = "",
    memory: Annotated[
        str | None, typer.Option(help="Memory to offer, e.g. 8G (default: 90% of the host's).")
    ] = None,
    disk: Annotated[
        str | None, typer.Option(help="Disk to offer, e.g. 50G (default: 90% of free space).")
    ] = None,
    cpus: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            max=100_000,
            help="CPU cores to offer, e.g. 3.5; containers' `cpus` count against it "
            "(default: the host's core count).",
        ),
    ] = None,
    load_threshold: Annotated[
        float,
        typer.Option(
            min=0,
            max=1000,
            help="1-minute load average per core above which peers place new instances "
            "elsewhere first, all else being equal (never refusing one that fits only here).",
        ),
    ] = 0.8,
    preemption: Annotated[
        str,
        typer.Option(
            metavar="TYPES",
            help="Job types that may stop instances of jobs at least 20 priority lower when "
            "they do not fit, e.g. service,system: system jobs, and service jobs of priority "
            "70 or more (none: no preemption).",
        ),
    ] = "system",
    auto_rebalance: Annotated[
        bool,
        typer.Option(
            "--auto-rebalance",
            help="Rebalance by itself (as `ozy rebalance`) when a node joins, or when one "
            "passes the cluster's mean allocation by --rebalance-threshold; off by default.",
        ),
    ] = False,
    rebalance_threshold: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="With --auto-rebalance: how far above the cluster's mean a node's allocation "
            "may go (0.2: 20 percentage points).",
        ),
    ] = 0.2,
    loadavg_file: Annotated[
        Path,
        typer.Option(
            help="Where to read the load average: e.g. LXCFS's "
            "/var/lib/lxcfs/proc/loadavg for a node inside a container.",
        ),
    ] = Path("/proc/loadavg"),
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
    kube_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Port of the Kubernetes API (kubectl; see `ozy kubeconfig`): on --api-host "
            "over HTTPS with --tls-cert, else plain HTTP on 127.0.0.1 only; 0: none.",
        ),
    ] = 6443,
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
    pod_subnet: PodSubnetOption = None,
    network_backend: Annotated[
        str,
        typer.Option(
            help="How pods reach other nodes' pods: host-gw (one L2 segment) or vxlan. "
            "Ignored where flannel runs (/run/flannel/subnet.env)."
        ),
    ] = "host-gw",
    cluster_cidr: ClusterCidrOption = DEFAULT_CLUSTER_CIDR,
    dns_port: Annotated[
        int, typer.Option(help="Port of the DNS server on 127.0.0.1 (pods use port 53).")
    ] = 5353,
    dns_domain: Annotated[
        str, typer.Option(help="The cluster's DNS domain, served by every node.")
    ] = "cluster.local",
    ingress_port: Annotated[
        int, typer.Option(help="HTTP ingress port, on every address: routes by Host header.")
    ] = 80,
    ingress_tcp_ports: Annotated[
        str,
        typer.Option(
            help="The range a job's TCP ingress ports must lie in (like a NodePort range), "
            "so no job can take port 22 or the API's port on every node."
        ),
    ] = "30000-32767",
    ingress_trusted_proxies: Annotated[
        str,
        typer.Option(
            help="Clients (CIDRs, comma-separated) whose X-Forwarded-For the HTTP ingress "
            "keeps and appends to; every other client's is replaced with its own address."
        ),
    ] = "",
    api_max_body: limits.ApiMaxBody = limits.DEFAULT_API_MAX_BODY,
    api_max_in_flight: limits.ApiMaxInFlight = limits.DEFAULT_API_MAX_IN_FLIGHT,
    api_body_timeout: limits.ApiBodyTimeout = limits.DEFAULT_API_BODY_TIMEOUT,
    api_header_timeout: limits.ApiHeaderTimeout = limits.DEFAULT_API_HEADER_TIMEOUT,
    api_max_follows: limits.ApiMaxFollows = limits.DEFAULT_API_MAX_FOLLOWS,
    api_max_watches: limits.ApiMaxWatches = limits.DEFAULT_API_MAX_WATCHES,
    max_instances: limits.MaxInstances = limits.DEFAULT_MAX_INSTANCES,
    max_containers: limits.MaxContainers = limits.DEFAULT_MAX_CONTAINERS,
    max_env_entries: limits.MaxEnvEntries = limits.DEFAULT_MAX_ENV_ENTRIES,
    max_env_size: limits.MaxEnvSize = limits.DEFAULT_MAX_ENV_SIZE,
    max_yaml_aliases: limits.MaxYamlAliases = limits.DEFAULT_MAX_YAML_ALIASES,
    max_yaml_nodes: limits.MaxYamlNodes = limits.DEFAULT_MAX_YAML_NODES,
    max_spec_size: limits.MaxSpecSize = limits.DEFAULT_MAX_SPEC_SIZE,
    max_depth: limits.MaxDepth = limits.DEFAULT_MAX_DEPTH,
    max_errors: limits.MaxErrors = limits.DEFAULT_MAX_ERRORS,
    tls_cert: security.TlsCert = None,
    tls_key: security.TlsKey = None,
    tls_client_ca: security.TlsClientCa = None,
    tls_ca: security.TlsCa = None,
    insecure_http: security.InsecureHttp = False,
    etcd_cacert: security.EtcdCacert = None,
    etcd_cert: security.EtcdCert = None,
    etcd_key: security.EtcdKey = None,
    etcd_user: security.EtcdUser = None,
    etcd_password_file: security.EtcdPasswordFile = None,
    secrets_key_file: security.SecretsKeyFile = None,
    log_format: LogFormatOption = "text",
) -> None:
    """Run a node daemon that joins an existing etcd, until stopped.

    Every node runs the same daemon. Its API listens on 127.0.0.1 unless
    --api-host says otherwise; off loopback it needs TLS (--tls-cert and
    --tls-key) or --insecure-http.

    Example: ozy node run --name n1 --etcd http://10.0.0.1:2379 --labels zone=a
    """
    # Long only for its options: typer declares each as a parameter.
    import uvloop

    from ozymandias.node import NodeDaemon
    from ozymandias.node_config import NodeConfig
    from ozymandias.scheduling.preemption import preemption_types

    try:
        config = NodeConfig(
            name=name,
            etcd=etcd,
            labels=parse_labels(labels),
            memory=parse_size(memory) if memory else None,
            disk=parse_size(disk) if disk else None,
            cpus=cpus,
            load_threshold=load_threshold,
            preemption=preemption_types(preemption),
            auto_rebalance=rebalance_threshold if auto_rebalance else None,
            loadavg_file=loadavg_file,
            shared_storage=shared_storage,
            shared_capacity=parse_size(shared_capacity) if shared_capacity else None,
            address=address,
            api_host=api_host,
            api_port=api_port,
            kube_port=kube_port,
            data_dir=data_dir,
            lease_ttl=lease_ttl,
            fence_after=fence_after,
            pod_subnet=pod_subnet,
            network_backend=network_backend,
            cluster_cidr=cluster_cidr,
            dns_port=dns_port,
            dns_domain=dns_domain.strip(".").lower(),
            ingress_port=ingress_port,
            ingress_tcp_ports=parse_port_range(ingress_tcp_ports),
            ingress_trusted_proxies=parse_networks(ingress_trusted_proxies),
            api_limits=limits.api_limits(
                api_max_body,
                api_max_in_flight,
                api_body_timeout,
                api_header_timeout,
                api_max_follows,
                api_max_watches,
            ),
            spec_limits=limits.spec_limits(
                max_instances=max_instances,
                max_containers=max_containers,
                max_env_entries=max_env_entries,
                max_env_size=max_env_size,
                max_yaml_aliases=max_yaml_aliases,
                max_yaml_nodes=max_yaml_nodes,
                max_spec_size=max_spec_size,
                max_depth=max_depth,
                max_errors=max_errors,
            ),
            api_tls=security.server_tls(tls_cert, tls_key, tls_client_ca),
            insecure_http=insecure_http,
            peer_ca=security.peer_ca(tls_ca),
            etcd_security=security.etcd_security(
                etcd_cacert, etcd_cert, etcd_key, etcd_user, etcd_password_file
            ),
            secrets_key_file=secrets_key_file,
        )
        client_context(config.peer_tls)  # the files peers are called with, checked now
    except ValueError as error:
        raise fail(str(error), code=2) from None
    configure_logging(log_format, config.name)
    # uvloop: the DNS server answers about four times as many queries per second on it.
    with last_words_logged(log_format):
        uvloop.run(NodeDaemon(config).run())


def parse_networks(text: str) -> list[IPv4Network | IPv6Network]:
    """Comma-separated CIDRs (or addresses); ValueError names a bad one."""
    networks: list[IPv4Network | IPv6Network] = []
    for part in filter(None, (item.strip() for item in text.split(","))):
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not a CIDR like 10.0.0.0/8") from None
    return networks


def parse_labels(text: str) -> dict[str, str]:
    """`zone=a,region=r1` → {"zone": "a", "region": "r1"}; ValueError if one is not KEY=VALUE."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"label {item!r} is not KEY=VALUE")
        labels[key] = value
    return labels
