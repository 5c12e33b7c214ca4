"""The subnets a host already uses, which a node's pod subnet must avoid (network/subnets.py)."""

from __future__ import annotations

from ozymandias.network.subnets import choose_subnet, conflict, used_on_host
from ozymandias.runtime.models import BridgeNetwork

NETWORKS = [
    BridgeNetwork("podman", "podman0", ("10.88.0.0/16",)),
    BridgeNetwork("ozy-old-node", "podman3", ("10.213.0.0/24",)),  # left by another node
    BridgeNetwork("ozy-n1", "podman4", ("10.213.7.0/24",)),  # this node's own, from before
]
ADDRESSES = [
    ("lo", "127.0.0.0/8"),
    ("eth0", "192.0.2.0/24"),
    ("podman3", "10.213.0.0/24"),
    ("podman4", "10.213.7.0/24"),
    ("wg0", "10.213.1.0/24"),  # a VPN inside the cluster range
]


def test_the_host_uses_other_networks_and_addresses_but_not_the_nodes_own_bridge() -> None:
    assert used_on_host(NETWORKS, ADDRESSES, own_network="ozy-n1") == {
        "10.88.0.0/16": "podman network podman",
        "10.213.0.0/24": "podman network ozy-old-node",
        "192.0.2.0/24": "an address on eth0",
        "10.213.1.0/24": "an address on wg0",
    }


def test_a_node_picks_the_lowest_subnet_free_in_etcd_and_on_the_host() -> None:
    used = used_on_host(NETWORKS, ADDRESSES, own_network="ozy-n1")
    held_by_peers = ["10.213.2.0/24"]
    assert choose_subnet("10.213.0.0/16", [*held_by_peers, *used]) == "10.213.3.0/24"
    # Its own subnet from before is still its own.
    assert choose_subnet("10.213.0.0/16", [*used], preferred="10.213.7.0/24") == "10.213.7.0/24"


def test_a_conflict_names_what_holds_the_subnet() -> None:
    used = used_on_host(NETWORKS, ADDRESSES, own_network="ozy-n1")
    assert conflict("10.213.0.0/24", used) == "podman network ozy-old-node (10.213.0.0/24)"
    assert conflict("10.213.9.0/24", used) is None
