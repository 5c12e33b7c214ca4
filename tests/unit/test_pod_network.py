"""The pod network's pure parts: subnets, flannel's subnet.env, peer routes, firewall rules."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import Node, Resources
from ozymandias.network.firewall_rules import (
    Chains,
    Isolation,
    PodPorts,
    misplaced_jumps,
    pod_rules,
    rehook,
    render,
)
from ozymandias.network.ip_routes import vtep_address, vtep_mac
from ozymandias.network.peer_routes import checked_peers, desired_peer_routes, route_changes
from ozymandias.network.subnets import choose_subnet, gateway_of, parse_flannel_env
from ozymandias.spec.models import PortMapping

CLUSTER = "10.213.0.0/16"


@pytest.mark.parametrize(
    ("taken", "preferred", "expected"),
    [
        ([], None, "10.213.0.0/24"),
        (["10.213.0.0/24", "10.213.2.0/24"], None, "10.213.1.0/24"),
        (["10.213.0.0/24"], "10.213.7.0/24", "10.213.7.0/24"),
        (["10.213.7.0/24"], "10.213.7.0/24", "10.213.0.0/24"),  # preferred is taken
        ([], "10.99.0.0/24", "10.213.0.0/24"),  # preferred is outside the range
        (["10.213.0.0/23"], None, "10.213.2.0/24"),  # an overlapping wider subnet
    ],
)
def test_choose_subnet(taken: list[str], preferred: str | None, expected: str) -> None:
    assert choose_subnet(CLUSTER, taken, preferred) == expected


def test_choose_subnet_when_the_range_is_full() -> None:
    assert choose_subnet("10.213.0.0/23", ["10.213.0.0/24", "10.213.1.0/24"]) is None
    with pytest.raises(ValueError, match="smaller than a /24"):
        choose_subnet("10.213.0.0/25", [])


def test_gateway_is_the_first_address() -> None:
    assert gateway_of("10.213.4.0/24") == "10.213.4.1"


def test_parse_flannel_env() -> None:
    flannel = parse_flannel_env(
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\n"
        'FLANNEL_MTU=1450\nFLANNEL_IPMASQ="true"\n'
    )
    assert (flannel.subnet, flannel.mtu, flannel.network) == (
        "10.244.3.0/24",
        1450,
        "10.244.0.0/16",
    )
    minimal = parse_flannel_env("# comment\nFLANNEL_SUBNET=10.5.1.1/24\n")
    assert (minimal.subnet, minimal.mtu, minimal.network) == ("10.5.1.0/24", 1500, None)
    with pytest.raises(ValueError, match="FLANNEL_SUBNET"):
        parse_flannel_env("FLANNEL_MTU=1450\n")


def node(name: str, address: str, subnet: str) -> Node:
    return Node(
        name=name,
        address=address,
        api_url=f"http://{address}:7070",
        capacity=Resources(),
        started_at=0,
        pod_subnet=subnet,
    )


def test_peer_routes_skip_self_same_host_and_nodes_without_a_subnet() -> None:
    own = node("a", "10.0.0.1", "10.213.0.0/24")
    nodes = [
        own,
        node("b", "10.0.0.2", "10.213.1.0/24"),
        node("c", "10.0.0.1", "10.213.2.0/24"),  # another daemon on this host
        node("d", "10.0.0.4", ""),  # an older node that publishes no subnet
    ]
    peers, problems = checked_peers(own, nodes, CLUSTER)
    assert problems == []
    assert desired_peer_routes(own, peers) == {"10.213.1.0/24": "10.0.0.2"}


def test_route_changes() -> None:
    current = {"10.213.1.0/24": "10.0.0.2", "10.213.2.0/24": "10.0.0.3", "10.213.9.0/24": "x"}
    desired = {"10.213.1.0/24": "10.0.0.2", "10.213.2.0/24": "10.0.0.33", "10.213.4.0/24": "y"}
    assert route_changes(desired, current) == (
        {"10.213.2.0/24": "10.0.0.33", "10.213.4.0/24": "y"},
        ["10.213.9.0/24"],
    )


def test_vtep_follows_the_subnet() -> None:
    assert vtep_address("10.213.5.0/24") == "10.213.5.0"
    assert vtep_mac("10.213.5.0/24") == "02:7a:0a:d5:05:00"


def test_chain_names_fit_iptables() -> None:
    assert Chains.for_node("n1") == Chains("OZY-n1-DNAT", "OZY-n1-FW", "OZY-n1-NOMASQ", "OZY-n1-IN")
    long_a = Chains.for_node("a-very-long-node-name-of-sixty-characters-in-a-big-cluster")
    long_b = Chains.for_node("a-very-long-node-name-of-sixty-characters-in-a-big-cluster2")
    assert max(len(name) for _, name in long_a.owned()) <= 28
    assert long_a != long_b


def ports(*specs: str) -> tuple[PortMapping, ...]:
    return tuple(PortMapping.model_validate(spec) for spec in specs)


def test_a_mapped_port_is_reached_only_through_its_cluster_port() -> None:
    rules = pod_rules(Chains.for_node("n1"), "web-0", PodPorts("10.213.0.5", ports("80:3000")))
    tag = '-m comment --comment "ozy pod web-0"'
    assert rules.nat == [
        f"-A OZY-n1-DNAT -d 10.213.0.5/32 -p tcp -m tcp --dport 80 {tag} "
        "-j DNAT --to-destination 10.213.0.5:3000"
    ]
    assert rules.filter == [
        "-A OZY-n1-FW -d 10.213.0.5/32 -p tcp -m tcp --dport 3000 "
        f"-m conntrack --ctstate DNAT --ctorigdstport 80 {tag} -j ACCEPT"
    ]


def test_a_port_on_both_sides_needs_no_mapping() -> None:
    rules = pod_rules(Chains.for_node("n1"), "dns-0", PodPorts("10.213.0.6", ports("53/udp")))
    assert rules.nat == []
    assert rules.filter == [
        "-A OZY-n1-FW -d 10.213.0.6/32 -p udp -m udp --dport 53 "
        '-m comment --comment "ozy pod dns-0" -j ACCEPT'
    ]


def test_render_declares_every_chain_and_rejects_the_rest_last() -> None:
    chains = Chains.for_node("n1")
    pods = {"b": PodPorts("10.213.0.3", ports("7000")), "a": PodPorts("10.213.0.2", ports("8080"))}
    text = render(chains, "10.213.0.0/24", CLUSTER, pods, Isolation())
    lines = text.splitlines()
    assert lines[:4] == [
        "*nat",
        ":OZY-n1-DNAT - [0:0]",
        ":OZY-n1-NOMASQ - [0:0]",
        "-A OZY-n1-NOMASQ -s 10.213.0.0/24 -d 10.213.0.0/16 -j ACCEPT",
    ]
    assert lines[lines.index("*filter") + 1 : lines.index("*filter") + 3] == [
        ":OZY-n1-FW - [0:0]",
        ":OZY-n1-IN - [0:0]",
    ]
    filter_rules = [line for line in lines if line.startswith("-A OZY-n1-FW ")]
    assert filter_rules[0].endswith("--ctstate RELATED,ESTABLISHED -j ACCEPT")
    assert filter_rules[1] == "-A OZY-n1-FW -d 10.213.0.0/24 -p icmp -j ACCEPT"
    # Pods in name order, so the same pods always render the same text.
    assert "10.213.0.2/32" in filter_rules[2] and "10.213.0.3/32" in filter_rules[3]
    assert filter_rules[-2:] == [
        "-A OZY-n1-FW -d 10.213.0.0/24 -p tcp -j REJECT --reject-with tcp-reset",
        "-A OZY-n1-FW -d 10.213.0.0/24 -j REJECT --reject-with icmp-port-unreachable",
    ]
    assert lines[-1] == "COMMIT"
    # No pods: the chains are emptied down to the base rules (a crashed run's leftovers go).
    empty = render(chains, "10.213.0.0/24", CLUSTER, {}, Isolation())
    assert "ozy pod" not in empty and empty.count("COMMIT") == 2


SAVED_WITH_NETAVARK_FIRST = """\
# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:OZY-n1-DNAT - [0:0]
:OZY-n1-NOMASQ - [0:0]
-A PREROUTING -j OZY-n1-DNAT
-A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT
-A OUTPUT -j OZY-n1-DNAT
-A POSTROUTING -j NETAVARK-HOSTPORT-SETMARK
-A POSTROUTING -j OZY-n1-NOMASQ
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OZY-n1-FW - [0:0]
:OZY-n1-IN - [0:0]
-A INPUT -j OZY-n1-IN
-A FORWARD -j OZY-n1-FW
COMMIT
"""


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        # netavark put its POSTROUTING jump ahead of ours when the first pod joined.
        (SAVED_WITH_NETAVARK_FIRST, [("nat", "POSTROUTING", "OZY-n1-NOMASQ")]),
        # Nothing hooked in yet (an empty built-in chain, or none listed at all).
        ("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", Chains.for_node("n1").jumps()),
        # Other nodes' jumps ahead are fine (moving past them, nodes sharing a network
        # namespace leapfrogged on every pod start); anything else ahead of them is not.
        (
            "*nat\n-A OUTPUT -j OZY-n2-DNAT\n-A OUTPUT -j OZY-n1-DNAT\n"
            "-A POSTROUTING -j OZY-other-NOMASQ\n-A POSTROUTING -j NETAVARK-HOSTPORT-MASQ\n"
            "-A POSTROUTING -j OZY-n1-NOMASQ\n-A PREROUTING -j OZY-n1-DNAT\nCOMMIT\n"
            "*filter\n-A FORWARD -j OZY-n2-FW\n-A FORWARD -j OZY-n1-FW\n"
            "-A INPUT -j OZY-n2-IN\n-A INPUT -j OZY-n1-IN\nCOMMIT\n",
            [("nat", "POSTROUTING", "OZY-n1-NOMASQ")],
        ),
        # A rule that only looks like another node's jump is not one.
        (
            "*nat\n-A PREROUTING -s 10.0.0.0/8 -j OZY-n2-DNAT\n-A PREROUTING -j OZY-n1-DNAT\n"
            "COMMIT\n",
            Chains.for_node("n1").jumps(),
        ),
        # The same jump in another table doesn't count.
        (
            "*mangle\n-A FORWARD -j OZY-n1-FW\nCOMMIT\n*filter\n-A FORWARD -j OTHER\nCOMMIT\n",
            Chains.for_node("n1").jumps(),
        ),
    ],
)
def test_misplaced_jumps(saved: str, expected: list[tuple[str, str, str]]) -> None:
    assert misplaced_jumps(saved, Chains.for_node("n1").jumps()) == expected


def test_a_misplaced_jump_moves_in_one_transaction_with_its_old_copies() -> None:
    """Deleted and inserted by separate calls, a jump was missing in between, and the
    ingress's connections to mapped ports were refused meanwhile."""
    saved = (
        "*nat\n-A POSTROUTING -j NETAVARK\n-A POSTROUTING -j OZY-n1-NOMASQ\n"
        "-A POSTROUTING -j OZY-n1-NOMASQ\n-A PREROUTING -j OZY-n1-DNAT\nCOMMIT\n"
        "*filter\n-A INPUT -j OZY-n1-IN\nCOMMIT\n"
    )
    assert rehook(saved, Chains.for_node("n1").jumps()) == (
        "*nat\n"
        "-I OUTPUT 1 -j OZY-n1-DNAT\n"
        "-D POSTROUTING -j OZY-n1-NOMASQ\n"
        "-D POSTROUTING -j OZY-n1-NOMASQ\n"
        "-I POSTROUTING 1 -j OZY-n1-NOMASQ\n"
        "COMMIT\n"
        "*filter\n"
        "-I FORWARD 1 -j OZY-n1-FW\n"
        "COMMIT\n"
    )


def test_jumps_in_place_need_no_transaction() -> None:
    saved = (
        "*nat\n-A PREROUTING -j OZY-n1-DNAT\n-A OUTPUT -j OZY-n1-DNAT\n"
        "-A POSTROUTING -j OZY-n1-NOMASQ\nCOMMIT\n"
        "*filter\n-A FORWARD -j OZY-n1-FW\n-A INPUT -j OZY-n1-IN\nCOMMIT\n"
    )
    assert rehook(saved, Chains.for_node("n1").jumps()) == ""
