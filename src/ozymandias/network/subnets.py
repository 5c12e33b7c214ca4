"""Which pod subnet a node takes: pure functions, no I/O.

Pod networks are IPv4 (the firewall is iptables). Each node leases one /24
of the cluster's pod range from etcd (see `subnet_lease.py`); a site that
runs flannel gives the node its subnet in /run/flannel/subnet.env instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from ipaddress import IPv4Network

NODE_PREFIX_LENGTH = 24
DEFAULT_MTU = 1500


def choose_subnet(
    cluster_cidr: str, taken: Collection[str], preferred: str | None = None
) -> str | None:
    """A free /24 of `cluster_cidr`: `preferred` if it is free and inside, else the lowest free.

    None when every /24 is taken. `preferred` lets a node that comes back
    after its lease expired get its old subnet again, so the addresses of the
    pods it adopts keep matching.
    """
    cluster = IPv4Network(cluster_cidr)
    if cluster.prefixlen > NODE_PREFIX_LENGTH:
        raise ValueError(f"the cluster range {cluster_cidr} is smaller than a /24")
    taken_networks = [IPv4Network(cidr) for cidr in taken]
    if preferred is not None:
        wanted = IPv4Network(preferred)
        if wanted.subnet_of(cluster) and not _overlaps(wanted, taken_networks):
            return str(wanted)
    for candidate in cluster.subnets(new_prefix=NODE_PREFIX_LENGTH):
        if not _overlaps(candidate, taken_networks):
            return str(candidate)
    return None


def _overlaps(candidate: IPv4Network, taken: Collection[IPv4Network]) -> bool:
    return any(candidate.overlaps(other) for other in taken)


def gateway_of(subnet: str) -> str:
    """The first address of the subnet: podman's bridge, and the pods' DNS server."""
    return str(next(ipaddress.ip_network(subnet).hosts()))


@dataclass(frozen=True)
class FlannelSubnet:
    """What flannel's subnet.env gives a node: its pod subnet, the pod MTU, the cluster range."""

    subnet: str
    mtu: int
    network: str | None


def parse_flannel_env(text: str) -> FlannelSubnet:
    """Read flannel's /run/flannel/subnet.env (shell-style KEY=VALUE lines).

    FLANNEL_SUBNET is the node's gateway address with the subnet's prefix
    (10.244.1.1/24), so the network is derived from it.
    """
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("\"'")
    if "FLANNEL_SUBNET" not in values:
        raise ValueError("flannel's subnet.env has no FLANNEL_SUBNET")
    subnet = ipaddress.ip_interface(values["FLANNEL_SUBNET"]).network
    network = values.get("FLANNEL_NETWORK")
    return FlannelSubnet(
        subnet=str(subnet),
        mtu=int(values.get("FLANNEL_MTU", DEFAULT_MTU)),
        network=str(ipaddress.ip_network(network)) if network else None,
    )
