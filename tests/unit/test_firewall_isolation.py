"""What pods may reach of the hosts (network/firewall_rules.py), and how the firewall applies it."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import ClassVar, cast

import pytest

from ozymandias.network import firewall, ip_routes, pod_network
from ozymandias.network.firewall import IptablesFirewall
from ozymandias.network.firewall_rules import (
    Chains,
    Isolation,
    PodPorts,
    PortOrRange,
    control_host_rules,
    host_rules,
    multiport_lists,
    render,
)
from ozymandias.runtime.models import BridgeNetwork
from ozymandias.spec.models import PortMapping
from ozymandias.store.cluster_store import ClusterStore

CHAINS = Chains.for_node("n1")
SUBNET = "10.213.4.0/24"
CLUSTER = "10.213.0.0/16"
REFUSE_TCP = "-j REJECT --reject-with tcp-reset"


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ([80, (30000, 32767)], ["80,30000:32767"]),
        ([2379, 7070, 2379, 80], ["80,2379,7070"]),  # sorted, once each
        ([(30000, 32767), 29999], ["29999,30000:32767"]),
        (list(range(1, 16)), [",".join(str(p) for p in range(1, 16))]),  # 15 fit one rule
        (list(range(1, 17)), [",".join(str(p) for p in range(1, 16)), "16"]),
        # A range takes two of the 15: it goes to the next rule rather than split.
        ([*range(1, 15), (100, 200)], [",".join(str(p) for p in range(1, 15)), "100:200"]),
        ([], []),
    ],
)
def test_multiport_lists(ports: list[PortOrRange], expected: list[str]) -> None:
    assert multiport_lists(ports) == expected


@pytest.mark.parametrize("bad", [0, 65536, (32767, 30000), (0, 10)])
def test_isolation_refuses_what_is_no_port(bad: PortOrRange) -> None:
    with pytest.raises(ValueError, match="not a TCP port"):
        Isolation(host_ports_open_to_pods=(bad,))
    if isinstance(bad, int):
        with pytest.raises(ValueError, match="not a TCP port"):
            Isolation(control_ports=(bad,))


def test_the_host_lets_its_pods_reach_dns_and_the_ingress_only() -> None:
    isolation = Isolation(host_ports_open_to_pods=(8080, (30000, 32767)), control_ports=(7070,))
    own = "-A OZY-n1-IN -s 10.213.4.0/24"
    assert host_rules(CHAINS, SUBNET, CLUSTER, isolation) == [
        # Replies to what the host opened (healthchecks), and the rest of allowed connections.
        f"{own} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"{own} -d 10.213.4.1/32 -p udp -m udp --dport 53 -j RETURN",
        f"{own} -d 10.213.4.1/32 -p tcp -m tcp --dport 53 -j RETURN",
        f"{own} -p tcp -m multiport --dports 8080,30000:32767 -j RETURN",
        # Anything else, on any of the host's addresses: refused at once.
        f"{own} -p tcp {REFUSE_TCP}",
        f"{own} -j REJECT --reject-with icmp-port-unreachable",
        # Other nodes' pods come in unmasqueraded on the gateway address.
        f"-A OZY-n1-IN -s 10.213.0.0/16 -p tcp -m multiport --dports 7070 {REFUSE_TCP}",
    ]


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        ({}, []),
        (
            # A peer with an API port of its own, and etcd's host (nothing more to refuse).
            {IPv4Address("10.0.0.9"): frozenset({7171}), IPv4Address("10.0.0.2"): frozenset()},
            [
                "-d 10.0.0.2/32 -p tcp -m multiport --dports 2379,7070",
                "-d 10.0.0.9/32 -p tcp -m multiport --dports 2379,7070,7171",
            ],
        ),
        # etcd on loopback: no pod reaches that anyway.
        ({IPv4Address("127.0.0.1"): frozenset()}, []),
    ],
)
def test_pods_are_refused_the_control_ports_of_other_hosts(
    hosts: dict[IPv4Address, frozenset[int]], expected: list[str]
) -> None:
    isolation = Isolation(control_ports=(7070, 2379), control_hosts=hosts)
    assert control_host_rules(CHAINS, SUBNET, isolation) == [
        f"-A OZY-n1-FW -s 10.213.4.0/24 {match} {REFUSE_TCP}" for match in expected
    ]


def test_render_puts_the_refusals_first_and_declares_the_in_chain() -> None:
    isolation = Isolation(control_hosts={IPv4Address("10.0.0.2"): frozenset()})
    lines = render(CHAINS, SUBNET, CLUSTER, {}, isolation).splitlines()
    filter_part = lines[lines.index("*filter") :]
    assert filter_part[1:3] == [":OZY-n1-FW - [0:0]", ":OZY-n1-IN - [0:0]"]
    # Ahead of FW's accepts: a reply to a pod (ESTABLISHED) never matches `-s` its subnet.
    assert filter_part[3].startswith("-A OZY-n1-FW -s 10.213.4.0/24 -d 10.0.0.2/32")
    assert filter_part[-2].startswith("-A OZY-n1-IN -s 10.213.0.0/16")
    assert filter_part[-1] == "COMMIT"


class FakeIptables:
    """The firewall's iptables calls, answered from a ruleset kept as `iptables-save` text:
    the chains as last restored (`restored`), and the jumps as the moves (`moves`) left them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.restored: list[str] = []
        self.moves: list[str] = []
        self.jumps: dict[str, list[str]] = {}
        self.commands: list[tuple[str, ...]] = []
        monkeypatch.setattr(firewall, "_saved_rules", self.saved)
        monkeypatch.setattr(firewall, "_must", self.must)
        monkeypatch.setattr(firewall, "_iptables", self.iptables)

    async def saved(self) -> str:
        jumps = "".join(
            f"*{table}\n" + "".join(f"{rule}\n" for rule in rules) + "COMMIT\n"
            for table, rules in self.jumps.items()
        )
        return (self.restored[-1] if self.restored else "") + jumps

    async def must(self, *arguments: str, stdin: str | None = None, program: str = "") -> None:
        if stdin is None:
            self.commands.append(arguments)
        elif ":" in stdin:  # chains' contents declare their chains; moves only -D and -I
            self.restored.append(stdin)
        else:
            self.moves.append(stdin)
            self._move(stdin)

    def _move(self, moves: str) -> None:
        table = ""
        for line in moves.splitlines():
            words = line.split()
            if line.startswith("*"):
                table = line[1:]
            elif words[0] == "-D":
                self.jumps[table].remove(f"-A {' '.join(words[1:])}")
            elif words[0] == "-I":
                self.jumps.setdefault(table, []).insert(0, f"-A {words[1]} {' '.join(words[3:])}")

    async def iptables(
        self, *arguments: str, stdin: str | None = None, program: str = ""
    ) -> tuple[int, str]:
        self.commands.append(arguments)
        # -C: no such jump (so nothing to unhook); -S: the chain exists.
        return (1 if "-C" in arguments else 0), ""


async def test_set_peers_adds_to_the_etcd_hosts_and_applies_changes_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeIptables(monkeypatch)
    etcd = IPv4Address("10.0.0.100")
    wall = IptablesFirewall("n1", SUBNET, CLUSTER, control_ports=(7070, 2379), control_hosts=[etcd])
    await wall.start()
    assert "-d 10.0.0.100/32 -p tcp -m multiport --dports 2379,7070 " in fake.restored[-1]
    # The jumps are hooked in first, INPUT's too, and stay there.
    assert "-I INPUT 1 -j OZY-n1-IN" in fake.moves[-1]
    await wall.reset({})  # the agent adopted no pod: nothing changes
    assert len(fake.restored) == 1

    peer = IPv4Address("10.0.0.2")
    await wall.set_peers({peer: frozenset({7171}), etcd: frozenset({7070})})
    assert len(fake.restored) == 2
    assert "-d 10.0.0.2/32 -p tcp -m multiport --dports 2379,7070,7171 " in fake.restored[-1]
    await wall.set_peers({peer: frozenset({7171}), etcd: frozenset({7070})})
    assert len(fake.restored) == 2  # nothing changed, nothing written

    await wall.set_peers({})  # the peer left; etcd's host stays refused
    assert "10.0.0.2/32" not in fake.restored[-1] and "10.0.0.100/32" in fake.restored[-1]
    assert len(fake.moves) == 1


async def test_stop_deletes_every_chain_the_node_owns(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeIptables(monkeypatch)
    wall = IptablesFirewall("n1", SUBNET, CLUSTER)
    await wall.stop()
    deleted = [command for command in fake.commands if "-X" in command]
    assert deleted == [("-t", table, "-X", chain) for table, chain in CHAINS.owned()]
    assert ("filter", "OZY-n1-IN") in CHAINS.owned()


class RecordingFirewall:
    made: ClassVar[list[RecordingFirewall]] = []

    def __init__(
        self, node_name: str, pod_subnet: str, cluster_cidr: str, **isolation: object
    ) -> None:
        self.isolation = isolation
        RecordingFirewall.made.append(self)

    async def start(self) -> None: ...


async def test_the_pod_network_gives_the_firewall_its_isolation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_blackhole(cidr: str) -> bool:
        return False

    monkeypatch.setattr(ip_routes, "ensure_blackhole", no_blackhole)
    monkeypatch.setattr(pod_network, "ensure_bridge_netfilter", lambda: True)
    monkeypatch.setattr(pod_network, "ensure_liberal_tcp_conntrack", lambda: True)
    monkeypatch.setattr(pod_network, "IptablesFirewall", RecordingFirewall)
    (tmp_path / "subnet.env").write_text("FLANNEL_SUBNET=10.213.4.1/24\n")

    class Bridges:
        async def ensure_network(self, name: str, subnet: str, mtu: int | None = None) -> None: ...

        async def remove_network(self, name: str) -> None: ...

        async def networks(self) -> list[BridgeNetwork]:
            return []

    network = pod_network.PodNetwork(
        Bridges(),
        cast(ClusterStore, object()),  # flannel gives the subnet: etcd is not asked
        node_name="n1",
        network_name="ozy-n1",
        cluster_cidr=CLUSTER,
        backend="host-gw",
        flannel_env=tmp_path / "subnet.env",
        subnet_file=tmp_path / "pod-subnet",
        host_ports_open_to_pods=[8080, (31000, 31999)],
        control_ports=[7171, 23790],
        control_hosts=["10.0.0.100", "10.0.0.100", "not a host name.invalid"],
    )
    await network.prepare_host()
    await network.start(lease_id=1, address="10.0.0.1")
    assert RecordingFirewall.made[-1].isolation == {
        "host_ports_open_to_pods": (8080, (31000, 31999)),
        "control_ports": (7171, 23790),
        # Once each; a name that does not resolve is left out (with an error logged).
        "control_hosts": [IPv4Address("10.0.0.100")],
    }


async def test_a_restarted_node_keeps_its_pods_ports_open_until_it_knows_its_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeIptables(monkeypatch)
    before = IptablesFirewall("n1", SUBNET, CLUSTER, control_ports=(7070,))
    await before.start()
    web = PodPorts("10.213.7.5", (PortMapping.model_validate("80:3000"),))
    await before.open_pod("web-0", web)
    assert "--to-destination 10.213.7.5:3000" in fake.restored[-1]
    written = len(fake.restored)

    # The daemon restarts: its chains are there, and the peers are known before the pods.
    after = IptablesFirewall("n1", SUBNET, CLUSTER, control_ports=(7070,))
    await after.start()
    await after.set_peers({IPv4Address("10.0.0.2"): frozenset({7070})})
    assert len(fake.restored) == written  # the old chains, web-0's port with them, stay
    await after.reset({"web-0": web})  # adopted: written once, with the peer
    assert "--to-destination 10.213.7.5:3000" in fake.restored[-1]
    assert "10.0.0.2/32" in fake.restored[-1]
