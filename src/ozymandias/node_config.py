"""What one node daemon is told (`NodeConfig`), and the defaults it works out for itself.

Kept apart from `node.py`, which composes the daemon's parts: this is the
part `ozy node run`'s flags and `ozy up` fill in, and what a reader looks up
to learn what a node offers unless told (capacity, address, data dir).
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path

from ozymandias import __version__
from ozymandias.api.request_limits import ApiLimits
from ozymandias.cluster.records import NodeSoftware, Resources, SharedStorage
from ozymandias.dns.server import DEFAULT_PORT as DEFAULT_DNS_PORT
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN
from ozymandias.ingress.port_range import DEFAULT_TCP_PORT_RANGE, PortRange
from ozymandias.network.pod_network import NETWORK_BACKENDS
from ozymandias.network.subnets import DEFAULT_CLUSTER_CIDR
from ozymandias.scheduling.preemption import DEFAULT_PREEMPTION
from ozymandias.spec.limits import SpecLimits
from ozymandias.store.etcd import parse_endpoints
from ozymandias.store.etcd_channel import connection_plan
from ozymandias.tls.certificates import names_host
from ozymandias.tls.contexts import ClientTls
from ozymandias.tls.settings import EtcdSecurity, ServerTls

DEFAULT_API_PORT = 7070
DEFAULT_INGRESS_PORT = 80
DEFAULT_LEASE_TTL = 5
FLANNEL_SUBNET_ENV = Path("/run/flannel/subnet.env")


def default_data_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ozymandias"


@dataclass
class NodeConfig:
    name: str
    etcd: str = "http://127.0.0.1:2379"
    labels: dict[str, str] = field(default_factory=dict)
    memory: int | None = None  # None: most of the host's memory
    disk: int | None = None  # None: most of the free space under data_dir
    cpus: float | None = None  # cores to offer; None: every core of the host
    # Load per core above which peers pass this node over for new instances.
    load_threshold: float = 0.8
    # The job types whose jobs may stop lower-priority instances to fit (`--preemption`).
    preemption: frozenset[str] = DEFAULT_PREEMPTION
    # Rebalance by itself when a node joins or one passes the mean by this much; None: never.
    auto_rebalance: float | None = None
    # Where the load average is read: another path for a host whose /proc is not its own
    # (e.g. LXCFS's /var/lib/lxcfs/proc/loadavg inside a container).
    loadavg_file: Path = Path("/proc/loadavg")
    # Where the zone's shared storage (e.g. an NFS mount) is mounted on this
    # host, and how much of it shared volumes may take; None: no shared storage.
    shared_storage: Path | None = None
    shared_capacity: int | None = None  # None: 90% of the shared filesystem's size
    address: str | None = None  # None: the address this host uses to reach etcd
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    kube_port: int = 6443  # the Kubernetes API (kube_api/); 0: not served
    data_dir: Path | None = None  # None: <data root>/nodes/<name>
    lease_ttl: int = DEFAULT_LEASE_TTL
    # Seconds without a lease refresh before the node stops its pods (fences);
    # None: the lease TTL. See "Failure handling" in the README.
    fence_after: float | None = None
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    pod_subnet: str | None = None  # None: lease a free /24 of cluster_cidr from etcd
    network_backend: str = "host-gw"  # how pods reach other nodes' pods: NETWORK_BACKENDS
    flannel_env: Path = FLANNEL_SUBNET_ENV  # if present, flannel gives the subnet and routes

    def __post_init__(self) -> None:
        if self.network_backend not in NETWORK_BACKENDS:
            raise ValueError(
                f"--network-backend must be one of {', '.join(NETWORK_BACKENDS)}, "
                f"not {self.network_backend!r}"
            )
        # The ingress ports are open to pods and to every job: they must never
        # take in the API's or etcd's, which pods must not reach.
        low, high = self.ingress_tcp_ports
        for port in self.control_ports:
            if port == self.ingress_port or low <= port <= high:
                raise ValueError(
                    f"the ingress ports (--ingress-port {self.ingress_port}, --ingress-tcp-ports "
                    f"{low}-{high}) must not include port {port}, which the API or etcd uses"
                )
        connection_plan(self.etcd, self.etcd_security)  # URLs and TLS/auth settings agree
        # Tokens and secrets cross the API: on a network, only inside TLS.
        if self.api_tls is None and not self.insecure_http and not is_loopback(self.api_host):
            raise ValueError(
                f"--api-host {self.api_host} is not a loopback address: serve the API over "
                "HTTPS (--tls-cert, --tls-key; `ozy tls --help` makes them), or accept plain "
                "HTTP on the network with --insecure-http"
            )

    podman_env: dict[str, str] = field(default_factory=dict)
    dns_domain: str = DEFAULT_DOMAIN
    dns_port: int = DEFAULT_DNS_PORT  # on 127.0.0.1, for dig from the host
    ingress_port: int = DEFAULT_INGRESS_PORT  # HTTP ingress, on every address
    # TCP ingress ports a job may take (inclusive), and the clients whose
    # X-Forwarded-For the HTTP ingress keeps (everyone else's is replaced).
    ingress_tcp_ports: PortRange = DEFAULT_TCP_PORT_RANGE
    ingress_trusted_proxies: list[IPv4Network | IPv6Network] = field(default_factory=list)
    api_limits: ApiLimits = field(default_factory=ApiLimits)
    spec_limits: SpecLimits = field(default_factory=SpecLimits)
    # On a clean stop, keep local volumes' data for this node's return (`ozy up` does).
    keep_local_volumes: bool = False
    api_tls: ServerTls | None = None  # None: plain HTTP (refused off loopback, unless insecure)
    insecure_http: bool = False
    # The CA peers' https certificates are checked against; None: --tls-client-ca's, if any.
    peer_ca: Path | None = None
    etcd_security: EtcdSecurity = field(default_factory=EtcdSecurity)
    secrets_key_file: Path | None = None  # None: this node cannot seal or open secrets

    @property
    def api_scheme(self) -> str:
        return "https" if self.api_tls is not None else "http"

    @property
    def peer_tls(self) -> ClientTls:
        """How this node calls peers over https: it checks their certificates against the
        cluster CA (`peer_ca`, else `--tls-client-ca`, else the system's CAs), and shows its
        own API certificate, for peers that require client certificates."""
        tls = self.api_tls
        return ClientTls(
            ca=self.peer_ca or (tls.client_ca if tls is not None else None),
            cert=tls.cert if tls is not None else None,
            key=tls.key if tls is not None else None,
            ca_flag="--tls-ca",
            cert_flag="--tls-cert",
            key_flag="--tls-key",
        )

    @property
    def node_dir(self) -> Path:
        return self.data_dir or default_data_root() / "nodes" / self.name

    @property
    def network_name(self) -> str:
        return f"ozy-{self.name}"

    @property
    def etcd_hosts(self) -> list[str]:
        return sorted({host for host, _ in parse_endpoints(self.etcd)})

    @property
    def control_ports(self) -> list[int]:
        """The TCP ports pods must never reach on any host: the APIs' and etcd's.

        etcd's are its client ports, and its peer ports: the next port up (as
        `ozy up` lays them out) and etcd's default, 2380.
        """
        clients = {port for _, port in parse_endpoints(self.etcd)}
        apis = {self.api_port, self.kube_port} - {0}
        return sorted({*apis, 2380, *clients, *(port + 1 for port in clients)})


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1 or localhost: an address only this host can reach."""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def api_warnings(config: NodeConfig, api_host: str) -> list[str]:
    """What a node says at every start about how its API is reached at `api_host`."""
    tls = config.api_tls
    if tls is None:
        if not config.insecure_http:
            return []
        return [
            f"--insecure-http: the API serves plain HTTP on {config.api_host}; tokens and "
            "secrets cross the network readable by anyone on the path"
        ]
    if names_host(tls.cert.read_bytes(), api_host):
        return []
    return [
        f"--tls-cert {tls.cert} does not name {api_host}, the address in this node's API URL: "
        f"peers and clients will refuse it (`ozy tls cert create --ip {api_host}` makes one "
        "that does)"
    ]


def host_memory() -> int:
    """MemTotal from /proc/meminfo, in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def default_capacity(config: NodeConfig) -> Resources:
    """What the node offers unless told: 90% of memory and of free disk, and every core.

    The rest of memory and disk is headroom for the host, the daemon and podman
    itself. CPU needs none: a container's `cpus` is a CFS quota, a ceiling on
    its share rather than memory it holds, so the host still gets time.
    """
    config.node_dir.mkdir(parents=True, exist_ok=True)
    memory = config.memory if config.memory is not None else int(host_memory() * 0.9)
    disk = (
        config.disk
        if config.disk is not None
        else int(shutil.disk_usage(config.node_dir).free * 0.9)
    )
    cpus = config.cpus if config.cpus is not None else float(os.cpu_count() or 1)
    return Resources(memory=memory, disk=disk, cpu=round(cpus * 1000))


def shared_storage_of(config: NodeConfig) -> SharedStorage | None:
    """What the node declares of its shared storage, if it has any."""
    if config.shared_storage is None:
        return None
    if not config.shared_storage.is_dir():
        raise SystemExit(f"--shared-storage {config.shared_storage} is not a directory")
    capacity = config.shared_capacity
    if capacity is None:
        capacity = int(shutil.disk_usage(config.shared_storage).total * 0.9)
    return SharedStorage(capacity=capacity)


def address_towards(endpoint: str) -> str:
    """The local address this host would use to reach (the first of) `endpoint` (no packet sent)."""
    host, port = parse_endpoints(endpoint)[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


# Python's names for machines, and the ones Kubernetes' `kubernetes.io/arch` uses.
_ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def this_host_software() -> NodeSoftware:
    """The daemon's version, and the host's OS, kernel and architecture."""
    try:
        os_image = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        os_image = ""
    machine = platform.machine()
    return NodeSoftware(
        ozy_version=__version__,
        os_image=os_image,
        kernel_version=platform.release(),
        architecture=_ARCHITECTURES.get(machine, machine),
    )
