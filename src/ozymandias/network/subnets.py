"""Which pod subnet a node takes: pure functions, no I/O.

Pod networks are IPv4 (the firewall is iptables). Each node leases one /24
of the cluster's pod range from etcd (see `subnet_lease.py`); a site that
runs flannel gives the node its subnet in /run/flannel/subnet.env instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network

from ozymandias.runtime.models import BridgeNetwork

DEFAULT_CLUSTER_CIDR = "10.213.0.0/16"
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


def used_on_host(
    networks: Iterable[BridgeNetwork], addresses: Iterable[tuple[str, str]], own_network: str
) -> dict[str, str]:
    """The IPv4 networks this host already uses, each with what uses it, but for the node's
    own bridge network (`own_network`, which a restarted daemon finds still there).

    What podman itself refuses a new network's subnet for: another podman
    network's subnet (one left by an earlier node of another name, say), or
    a network an interface has an address on.
    """
    own_interfaces = {n.interface for n in networks if n.name == own_network and n.interface}
    used: dict[str, str] = {}
    for network in networks:
        if network.name != own_network:
            for subnet in network.subnets:
                used.setdefault(subnet, f"podman network {network.name}")
    for interface, cidr in addresses:
        if interface not in own_interfaces and interface != "lo":
            used.setdefault(cidr, f"an address on {interface}")
    return used


def conflict(subnet: str, used: Mapping[str, str]) -> str | None:
    """What on this host overlaps `subnet`, if anything: e.g. "podman network old (10.0.0.0/24)"."""
    wanted = IPv4Network(subnet)
    for cidr, what in used.items():
        if wanted.overlaps(IPv4Network(cidr)):
            return f"{what} ({cidr})"
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
