"""Node records from etcd are checked before their values reach `ip route` or iptables."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network
from typing import cast

import pytest

from ozymandias.cluster.records import Node, Resources
from ozymandias.network.peer_routes import Peer, PeerRouter, checked_peer, other_hosts
from ozymandias.store.mirror import Mirror

CLUSTER = "10.213.0.0/16"


def node(name: str, address: str, subnet: str, api_url: str = "http://10.0.0.9:7070") -> Node:
    return Node(
        name=name,
        address=address,
        api_url=api_url,
        capacity=Resources(),
        started_at=0,
        pod_subnet=subnet,
    )


@pytest.mark.parametrize(
    ("address", "subnet", "problem"),
    [
        ("10.0.0.2; reboot", "10.213.1.0/24", "address '10.0.0.2; reboot' is not an IPv4"),
        ("peer.example", "10.213.1.0/24", "address 'peer.example' is not an IPv4"),
        ("fd00::2", "10.213.1.0/24", "address 'fd00::2' is not an IPv4"),
        ("0.0.0.0", "10.213.1.0/24", "address '0.0.0.0' is not a host's"),
        ("224.0.0.1", "10.213.1.0/24", "address '224.0.0.1' is not a host's"),
        ("10.0.0.2", "10.213.1.0/24 dev lo", "pod_subnet '10.213.1.0/24 dev lo' is not an IPv4"),
        ("10.0.0.2", "10.213.1.5/24", "pod_subnet '10.213.1.5/24' is not an IPv4"),
        ("10.0.0.2", "10.99.1.0/24", "pod_subnet '10.99.1.0/24' is not a subnet of the cluster"),
        ("10.0.0.2", "10.212.0.0/15", "is not a subnet of the cluster range 10.213.0.0/16"),
        # The whole range would take every pod's traffic to that node.
        ("10.0.0.2", "10.213.0.0/16", "pod_subnet '10.213.0.0/16' is not a subnet"),
    ],
)
def test_a_bad_record_is_refused_naming_the_node_and_field(
    address: str, subnet: str, problem: str
) -> None:
    checked = checked_peer(node("b", address, subnet), IPv4Network(CLUSTER))
    assert isinstance(checked, str)
    assert checked.startswith("node b: ") and problem in checked


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            node("b", "10.0.0.2", "10.213.1.0/24", "http://10.0.0.2:7171"),
            Peer("b", IPv4Address("10.0.0.2"), IPv4Network("10.213.1.0/24"), frozenset({7171})),
        ),
        # An older node without a subnet; an API URL without a port (its 80 is the ingress's).
        (
            node("c", "10.0.0.3", "", "http://10.0.0.3"),
            Peer("c", IPv4Address("10.0.0.3"), None, frozenset()),
        ),
        (
            node("d", "10.0.0.4", "10.213.2.0/23", "http://[bad"),
            Peer("d", IPv4Address("10.0.0.4"), IPv4Network("10.213.2.0/23"), frozenset()),
        ),
    ],
)
def test_a_good_record_gives_its_checked_values(record: Node, expected: Peer) -> None:
    assert checked_peer(record, IPv4Network(CLUSTER)) == expected


def test_other_hosts_leave_out_this_one_and_merge_ports_per_address() -> None:
    own = node("a", "10.0.0.1", "10.213.0.0/24")
    peers = [
        Peer("b", IPv4Address("10.0.0.2"), None, frozenset({7070})),
        Peer("c", IPv4Address("10.0.0.2"), None, frozenset({7071})),
        Peer("d", IPv4Address("10.0.0.1"), None, frozenset({7072})),  # a daemon on this host
    ]
    assert other_hosts(own, peers) == {IPv4Address("10.0.0.2"): frozenset({7070, 7071})}


class FakeNodes:
    def __init__(self, nodes: list[Node]) -> None:
        self.items = {record.name: record for record in nodes}


class FakeBackend:
    pod_mtu: int | None = None

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}

    async def setup(self) -> None: ...

    async def current(self) -> dict[str, str]:
        return dict(self.routes)

    async def set_peer(self, subnet: str, address: str) -> None:
        self.routes[subnet] = address

    async def remove_peer(self, subnet: str) -> None:
        del self.routes[subnet]

    async def teardown(self) -> None: ...


class FakeFirewall:
    def __init__(self) -> None:
        self.peers: Mapping[IPv4Address, frozenset[int]] | None = None

    async def set_peers(self, peers: Mapping[IPv4Address, frozenset[int]]) -> None:
        self.peers = peers


async def test_bad_records_never_reach_a_route_and_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    own = node("a", "10.0.0.1", "10.213.0.0/24")
    records = FakeNodes(
        [
            own,
            node("b", "10.0.0.2", "10.213.1.0/24", "http://10.0.0.2:7070"),
            node("evil", "10.0.0.3", "0.0.0.0/0"),
            node("worse", "10.0.0.4 dev lo", "10.213.3.0/24"),
        ]
    )
    backend, wall = FakeBackend(), FakeFirewall()
    router = PeerRouter(
        own, cast(Mirror[Node], records), backend, cluster_cidr=CLUSTER, firewall=wall
    )
    with caplog.at_level(logging.ERROR, logger="ozymandias.network.peer_routes"):
        await router.sync()
        await router.sync()
    assert backend.routes == {"10.213.1.0/24": "10.0.0.2"}
    # A record with a bad subnet is ignored whole: its address is not refused either.
    assert wall.peers == {IPv4Address("10.0.0.2"): frozenset({7070})}
    errors = [record.getMessage() for record in caplog.records]
    assert len(errors) == 2, errors
    assert "node evil: pod_subnet '0.0.0.0/0'" in errors[0]
    assert "node worse: address '10.0.0.4 dev lo'" in errors[1]


async def test_under_flannel_only_the_firewall_follows_the_records() -> None:
    own = node("a", "10.0.0.1", "10.244.0.0/24")
    records = FakeNodes([own, node("b", "10.0.0.2", "10.244.1.0/24", "http://10.0.0.2:7070")])
    wall = FakeFirewall()
    router = PeerRouter(
        own, cast(Mirror[Node], records), None, cluster_cidr="10.244.0.0/16", firewall=wall
    )
    await router.sync()
    assert wall.peers == {IPv4Address("10.0.0.2"): frozenset({7070})}
