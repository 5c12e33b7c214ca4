"""The content of the node's iptables chains: pure functions, no I/O (`firewall.py` applies it).

Four chains the node owns and names after itself:

- `OZY-<node>-DNAT` (nat; jumped to from PREROUTING and OUTPUT): a pod's
  cluster port to its container port, e.g. <pod IP>:80 -> <pod IP>:3000, for
  traffic from other pods, other hosts and this node itself.
- `OZY-<node>-FW` (filter; from FORWARD): traffic to the node's pod subnet
  passes only if it answers a connection the pod opened, is ICMP, or goes to
  a port the pod declared; TCP is then refused with a reset (no hanging
  connect), anything else with ICMP port-unreachable. A mapped container port
  is open only to traffic DNATed from its cluster port (conntrack's original
  destination port says which), so "80:3000" refuses :3000 from outside.
  The node's own traffic (OUTPUT: healthchecks) and traffic inside a pod
  (localhost) never pass FORWARD, so they are not filtered. Ahead of that,
  the node's pods are refused the control ports (the API's, etcd's) of the
  other hosts: every peer node's address and etcd's hosts.
- `OZY-<node>-IN` (filter; from INPUT): what the node's pods may reach of
  the host itself, on any of its addresses: the DNS server on the gateway
  (53, udp and tcp) and the ingress ports; anything else is refused at
  once, as in FW. Replies to connections the host opened (healthchecks, the
  ingress's backends) pass. Pods of other nodes reach this host unmasqueraded
  on its gateway address: they are refused its control ports. What the chain
  lets through returns to INPUT, where the host's own rules still apply.
- `OZY-<node>-NOMASQ` (nat; from POSTROUTING, ahead of podman's masquerade):
  traffic from the node's pods to the cluster range is accepted there, which
  ends the nat table's POSTROUTING for it, so it keeps the pod's source
  address. (A RETURN would only return into POSTROUTING, on to podman's
  masquerade.)

Every rule about the node's pods matches their source subnet, so several
nodes in one network namespace (as in the tests) each filter only their own.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ozymandias.network.subnets import gateway_of
from ozymandias.spec.models import PortMapping

# iptables chain names are at most 28 characters; "OZY-" + 14 + "-NOMASQ" is 25.
_MAX_NODE_PART = 14
# iptables' multiport takes at most 15 ports a rule, a range counting as two.
_MULTIPORT_SLOTS = 15

# A port, or a range of them as (first, last).
PortOrRange = int | tuple[int, int]

# The HTTP ingress port and the TCP ingress range (see ozy node run's flags).
DEFAULT_HOST_PORTS_OPEN_TO_PODS: tuple[PortOrRange, ...] = (80, (30000, 32767))
# The API's port and etcd's client and peer ports.
DEFAULT_CONTROL_PORTS: tuple[int, ...] = (7070, 2379, 2380)

# Any node's chain (see `Chains.for_node`).
_NODE_CHAIN = re.compile(r"OZY-\S+-(DNAT|FW|NOMASQ|IN)")

_REFUSE_TCP = "-j REJECT --reject-with tcp-reset"
_REFUSE_OTHERS = "-j REJECT --reject-with icmp-port-unreachable"


@dataclass(frozen=True)
class PodPorts:
    """What the firewall needs to know of one pod."""

    ip: str
    ports: tuple[PortMapping, ...]


@dataclass(frozen=True)
class Chains:
    dnat: str
    filter: str
    nomasq: str
    inbound: str

    @classmethod
    def for_node(cls, node_name: str) -> Chains:
        part = node_name
        if len(part) > _MAX_NODE_PART:
            digest = hashlib.sha256(node_name.encode()).hexdigest()[:5]
            part = f"{node_name[: _MAX_NODE_PART - 6]}-{digest}"
        prefix = f"OZY-{part}"
        return cls(
            dnat=f"{prefix}-DNAT",
            filter=f"{prefix}-FW",
            nomasq=f"{prefix}-NOMASQ",
            inbound=f"{prefix}-IN",
        )

    def jumps(self) -> list[tuple[str, str, str]]:
        """(table, built-in chain, our chain): where each of ours is hooked in, first."""
        return [
            ("nat", "PREROUTING", self.dnat),
            ("nat", "OUTPUT", self.dnat),
            ("nat", "POSTROUTING", self.nomasq),
            ("filter", "FORWARD", self.filter),
            ("filter", "INPUT", self.inbound),
        ]

    def owned(self) -> list[tuple[str, str]]:
        """(table, chain) of every chain of the node."""
        return [
            ("nat", self.dnat),
            ("nat", self.nomasq),
            ("filter", self.filter),
            ("filter", self.inbound),
        ]


@dataclass(frozen=True)
class Isolation:
    """What the node's pods may reach of the hosts, theirs and the others."""

    host_ports_open_to_pods: tuple[PortOrRange, ...] = DEFAULT_HOST_PORTS_OPEN_TO_PODS
    control_ports: tuple[int, ...] = DEFAULT_CONTROL_PORTS
    # Other hosts -> the ports refused there besides `control_ports` (a peer's own API port).
    control_hosts: Mapping[IPv4Address, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for port in (*self.host_ports_open_to_pods, *self.control_ports):
            first, last = port if isinstance(port, tuple) else (port, port)
            if not 1 <= first <= last <= 65535:
                raise ValueError(f"not a TCP port or range of ports: {port!r}")


@dataclass(frozen=True)
class PodRules:
    nat: list[str]
    filter: list[str]


def pod_rules(chains: Chains, pod_name: str, pod: PodPorts) -> PodRules:
    """The DNAT and filter rules of one pod, as iptables-restore lines."""
    nat, accept = [], []
    tag = f'-m comment --comment "ozy pod {pod_name}"'
    for port in pod.ports:
        match = f"-d {pod.ip}/32 -p {port.protocol} -m {port.protocol}"
        if port.cluster_port == port.container_port:
            accept.append(
                f"-A {chains.filter} {match} --dport {port.container_port} {tag} -j ACCEPT"
            )
            continue
        nat.append(
            f"-A {chains.dnat} {match} --dport {port.cluster_port} {tag} "
            f"-j DNAT --to-destination {pod.ip}:{port.container_port}"
        )
        # Only what came in on the cluster port reaches the container port.
        accept.append(
            f"-A {chains.filter} {match} --dport {port.container_port} "
            f"-m conntrack --ctstate DNAT --ctorigdstport {port.cluster_port} {tag} -j ACCEPT"
        )
    return PodRules(nat=nat, filter=accept)


def multiport_lists(ports: Iterable[PortOrRange]) -> list[str]:
    """`--dports` arguments for `ports`, sorted and without repeats, as few as multiport allows."""
    lists: list[list[str]] = []
    slots = _MULTIPORT_SLOTS
    for port in sorted(set(ports), key=lambda p: p if isinstance(p, tuple) else (p, p)):
        text, size = (f"{port[0]}:{port[1]}", 2) if isinstance(port, tuple) else (str(port), 1)
        if slots + size > _MULTIPORT_SLOTS:
            lists.append([])
            slots = 0
        lists[-1].append(text)
        slots += size
    return [",".join(items) for items in lists]


def host_rules(
    chains: Chains, pod_subnet: str, cluster_cidr: str, isolation: Isolation
) -> list[str]:
    """The IN chain: what pods may reach of this host (see the module docstring)."""
    chain, own = chains.inbound, f"-A {chains.inbound} -s {pod_subnet}"
    gateway = gateway_of(pod_subnet)
    return [
        f"{own} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"{own} -d {gateway}/32 -p udp -m udp --dport 53 -j RETURN",
        f"{own} -d {gateway}/32 -p tcp -m tcp --dport 53 -j RETURN",
        *(
            f"{own} -p tcp -m multiport --dports {ports} -j RETURN"
            for ports in multiport_lists(isolation.host_ports_open_to_pods)
        ),
        f"{own} -p tcp {_REFUSE_TCP}",
        f"{own} {_REFUSE_OTHERS}",
        *(
            f"-A {chain} -s {cluster_cidr} -p tcp -m multiport --dports {ports} {_REFUSE_TCP}"
            for ports in multiport_lists(isolation.control_ports)
        ),
    ]


def control_host_rules(chains: Chains, pod_subnet: str, isolation: Isolation) -> list[str]:
    """FW's refusals of the node's pods to the control ports of other hosts, by address."""
    return [
        f"-A {chains.filter} -s {pod_subnet} -d {address}/32 -p tcp "
        f"-m multiport --dports {ports} {_REFUSE_TCP}"
        for address in sorted(isolation.control_hosts)
        # Pods can't reach a loopback address of another host.
        if not address.is_loopback
        for ports in multiport_lists([*isolation.control_ports, *isolation.control_hosts[address]])
    ]


def render(
    chains: Chains,
    pod_subnet: str,
    cluster_cidr: str,
    pods: Mapping[str, PodPorts],
    isolation: Isolation,
) -> str:
    """The whole content of the node's chains, as `iptables-restore --noflush` input.

    Declaring a chain in the input empties it, so applying this replaces the
    chains' previous content in one atomic step.
    """
    per_pod = [pod_rules(chains, name, pods[name]) for name in sorted(pods)]
    fw = chains.filter
    return "\n".join(
        [
            "*nat",
            f":{chains.dnat} - [0:0]",
            f":{chains.nomasq} - [0:0]",
            f"-A {chains.nomasq} -s {pod_subnet} -d {cluster_cidr} -j ACCEPT",
            *(line for rules in per_pod for line in rules.nat),
            "COMMIT",
            "*filter",
            f":{fw} - [0:0]",
            f":{chains.inbound} - [0:0]",
            *control_host_rules(chains, pod_subnet, isolation),
            f"-A {fw} -d {pod_subnet} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"-A {fw} -d {pod_subnet} -p icmp -j ACCEPT",
            *(line for rules in per_pod for line in rules.filter),
            f"-A {fw} -d {pod_subnet} -p tcp {_REFUSE_TCP}",
            f"-A {fw} -d {pod_subnet} {_REFUSE_OTHERS}",
            *host_rules(chains, pod_subnet, cluster_cidr, isolation),
            "COMMIT",
            "",
        ]
    )


def _builtin_rules(saved: str) -> dict[tuple[str, str], list[str]]:
    """(table, built-in chain) -> its rules in order, from the output of `iptables-save`."""
    rules: dict[tuple[str, str], list[str]] = {}
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith("-A "):
            builtin = line.split(maxsplit=2)[1]
            rules.setdefault((table, builtin), []).append(line.strip())
    return rules


def _is_node_jump(rule: str, builtin: str) -> bool:
    """Whether `rule` is a node's unconditional jump into one of its chains (any node's)."""
    prefix = f"-A {builtin} -j "
    return rule.startswith(prefix) and _NODE_CHAIN.fullmatch(rule[len(prefix) :]) is not None


def misplaced_jumps(
    saved: str, jumps: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The (table, built-in chain, our chain) jumps of `jumps` that are missing from their
    built-in chain in `saved`, the output of `iptables-save`, or come after a rule other
    than another node's jump.

    Other nodes' jumps may stand ahead of ours: every rule in a node's chains
    matches its own subnet or pods (or only refuses), so they never decide
    about our pods' traffic. Asking to be first of all instead made nodes
    sharing a network namespace (the tests, several engineers' nodes on one
    machine) move their jumps past each other on every pod start.
    """
    rules = _builtin_rules(saved)
    misplaced = []
    for table, builtin, chain in jumps:
        present = rules.get((table, builtin), [])
        ours = f"-A {builtin} -j {chain}"
        if ours not in present or not all(
            _is_node_jump(rule, builtin) for rule in present[: present.index(ours)]
        ):
            misplaced.append((table, builtin, chain))
    return misplaced


def rehook(saved: str, jumps: Sequence[tuple[str, str, str]]) -> str:
    """`iptables-restore --noflush` input that moves every misplaced jump of `jumps`
    (see `misplaced_jumps`) to the top of its built-in chain; "" if none is.

    Each old jump is deleted (every copy `saved` shows) in the same
    transaction that inserts the new one: a jump deleted and inserted by two
    iptables calls was missing for 20-300 ms, and the node's own connections
    to pods' mapped ports (the ingress's) then missed their DNAT, reached a
    port nobody listens on and were refused.
    """
    rules = _builtin_rules(saved)
    tables: dict[str, list[str]] = {}
    for table, builtin, chain in misplaced_jumps(saved, jumps):
        copies = rules.get((table, builtin), []).count(f"-A {builtin} -j {chain}")
        moves = tables.setdefault(table, [])
        moves += [f"-D {builtin} -j {chain}"] * copies
        moves.append(f"-I {builtin} 1 -j {chain}")
    return "".join(
        f"*{table}\n" + "".join(f"{line}\n" for line in lines) + "COMMIT\n"
        for table, lines in tables.items()
    )
