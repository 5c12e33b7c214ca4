"""Port mapping and the pod firewall: the only module that runs iptables.

Every rule lives in three chains the node owns and names after itself:

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
  (localhost) never pass FORWARD, so they are not filtered.
- `OZY-<node>-NOMASQ` (nat; from POSTROUTING, ahead of podman's masquerade):
  traffic from the node's pods to the cluster range is accepted there, which
  ends the nat table's POSTROUTING for it, so it keeps the pod's source
  address. (A RETURN would only return into POSTROUTING, on to podman's
  masquerade.)

Their content is computed by pure functions from the pods' addresses and
ports, and replaced as a whole on every change with one `iptables-restore
--noflush` call per change, which is atomic and leaves every other chain
alone. A node starting after a crash replaces whatever the previous run left
with the pods it adopts (see `reset`).

Rules on a bridge see bridged traffic (pod to pod on one node) only with
br_netfilter's `bridge-nf-call-iptables`; `ensure_bridge_netfilter` checks it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ozymandias.spec.models import PortMapping

log = logging.getLogger(__name__)

BRIDGE_NETFILTER = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
CONNTRACK_TCP_LIBERAL = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal")
# iptables chain names are at most 28 characters; "OZY-" + 14 + "-NOMASQ" is 25.
_MAX_NODE_PART = 14


class FirewallError(RuntimeError):
    pass


@dataclass(frozen=True)
class PodPorts:
    """What the firewall needs to know of one pod."""

    ip: str
    ports: tuple[PortMapping, ...]


class PodFirewall(Protocol):
    """What the node agent asks of the firewall as pods come and go."""

    async def open_pod(self, pod_name: str, pod: PodPorts) -> None: ...

    async def close_pod(self, pod_name: str) -> None: ...

    async def reset(self, pods: Mapping[str, PodPorts]) -> None:
        """Exactly these pods, nothing else (after adopting the pods of a previous run)."""
        ...


@dataclass(frozen=True)
class Chains:
    dnat: str
    filter: str
    nomasq: str

    @classmethod
    def for_node(cls, node_name: str) -> Chains:
        part = node_name
        if len(part) > _MAX_NODE_PART:
            digest = hashlib.sha256(node_name.encode()).hexdigest()[:5]
            part = f"{node_name[: _MAX_NODE_PART - 6]}-{digest}"
        prefix = f"OZY-{part}"
        return cls(dnat=f"{prefix}-DNAT", filter=f"{prefix}-FW", nomasq=f"{prefix}-NOMASQ")

    def jumps(self) -> list[tuple[str, str, str]]:
        """(table, built-in chain, our chain): where each of ours is hooked in, first."""
        return [
            ("nat", "PREROUTING", self.dnat),
            ("nat", "OUTPUT", self.dnat),
            ("nat", "POSTROUTING", self.nomasq),
            ("filter", "FORWARD", self.filter),
        ]


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


def render(chains: Chains, pod_subnet: str, cluster_cidr: str, pods: Mapping[str, PodPorts]) -> str:
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
            f"-A {fw} -d {pod_subnet} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            f"-A {fw} -d {pod_subnet} -p icmp -j ACCEPT",
            *(line for rules in per_pod for line in rules.filter),
            f"-A {fw} -d {pod_subnet} -p tcp -j REJECT --reject-with tcp-reset",
            f"-A {fw} -d {pod_subnet} -j REJECT --reject-with icmp-port-unreachable",
            "COMMIT",
            "",
        ]
    )


def misplaced_jumps(
    saved: str, jumps: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """The (table, built-in chain, our chain) jumps of `jumps` that are not the first
    rule of their built-in chain in `saved`, the output of `iptables-save`."""
    first_rules: dict[tuple[str, str], str] = {}
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif line.startswith("-A "):
            builtin = line.split(maxsplit=2)[1]
            first_rules.setdefault((table, builtin), line.strip())
    return [
        (table, builtin, chain)
        for table, builtin, chain in jumps
        if first_rules.get((table, builtin)) != f"-A {builtin} -j {chain}"
    ]


async def _iptables(
    *arguments: str, stdin: str | None = None, program: str = "iptables"
) -> tuple[int, str]:
    """Run one iptables command: (exit status, output). Status 1 ("no such rule or
    chain") is the caller's to judge; any other failure raises."""
    process = await asyncio.create_subprocess_exec(
        program,
        "-w",
        *arguments,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    code = process.returncode or 0
    if code not in (0, 1):
        raise FirewallError(f"{program} {' '.join(arguments)}: {err.decode().strip()}")
    if code == 1:
        log.debug("%s %s: %s", program, " ".join(arguments), err.decode().strip())
    return code, out.decode()


async def _must(*arguments: str, stdin: str | None = None, program: str = "iptables") -> None:
    code, _ = await _iptables(*arguments, stdin=stdin, program=program)
    if code != 0:
        raise FirewallError(f"{program} {' '.join(arguments)} failed")


class IptablesFirewall:
    """Keeps the node's chains equal to the rules of the pods it runs."""

    def __init__(self, node_name: str, pod_subnet: str, cluster_cidr: str) -> None:
        self.chains = Chains.for_node(node_name)
        self._subnet = pod_subnet
        self._cluster = cluster_cidr
        self._pods: dict[str, PodPorts] = {}
        # What the last iptables-restore wrote: a pod without ports changes nothing.
        self._applied: str | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Create the chains if missing and hook them in first.

        Chains a previous run left keep their rules until `reset`, so the pods
        the agent adopts stay reachable meanwhile.
        """
        async with self._lock:
            saved = await _saved_rules()
            if not self._chains_in(saved):
                await self._apply(saved)
            else:
                await self._hook_in_first(saved)

    async def stop(self) -> None:
        """Unhook and delete every chain of the node."""
        async with self._lock:
            self._pods.clear()
            self._applied = None
            for table, builtin, chain in self.chains.jumps():
                await _unhook(table, builtin, chain)
            for table, chain in self._owned():
                if (await _iptables("-t", table, "-S", chain))[0] == 0:
                    await _must("-t", table, "-F", chain)
                    await _must("-t", table, "-X", chain)

    async def open_pod(self, pod_name: str, pod: PodPorts) -> None:
        async with self._lock:
            self._pods[pod_name] = pod
            await self._apply(await _saved_rules())

    async def close_pod(self, pod_name: str) -> None:
        async with self._lock:
            if self._pods.pop(pod_name, None) is not None:
                await self._apply(await _saved_rules())

    async def reset(self, pods: Mapping[str, PodPorts]) -> None:
        async with self._lock:
            self._pods = dict(pods)
            await self._apply(await _saved_rules())

    def _owned(self) -> Sequence[tuple[str, str]]:
        chains = self.chains
        return [("nat", chains.dnat), ("nat", chains.nomasq), ("filter", chains.filter)]

    def _chains_in(self, saved: str) -> bool:
        declared = {line.split()[0] for line in saved.splitlines() if line.startswith(":")}
        return all(f":{chain}" in declared for _, chain in self._owned())

    async def _apply(self, saved: str) -> None:
        """Write the chains (unless they hold this already) and hook them in first.

        `saved` is the ruleset as it was before: a change of ours never
        touches the built-in chains, so it still tells where the jumps stand.
        """
        rules = render(self.chains, self._subnet, self._cluster, self._pods)
        # Most pods declare no port, so their start changes no rule; chains someone
        # else deleted (a firewall reload) are written again.
        if rules != self._applied or not self._chains_in(saved):
            await _must("--noflush", stdin=rules, program="iptables-restore")
            self._applied = rules
        await self._hook_in_first(saved)

    async def _hook_in_first(self, saved: str) -> None:
        """Make each jump into our chains the first rule of its built-in chain.

        podman (netavark) inserts its own jumps at the top whenever the first
        pod joins its network, and its FORWARD chain accepts everything from
        the pod subnet: behind it, our filter would never see traffic between
        pods of this node. So the order is checked again after every change;
        pods join before their ports are opened.
        """
        for table, builtin, chain in misplaced_jumps(saved, self.chains.jumps()):
            await _unhook(table, builtin, chain)
            await _must("-t", table, "-I", builtin, "1", "-j", chain)


async def _saved_rules() -> str:
    """Every table's rules, as `iptables-save` prints them: one process for what
    several `iptables -S` would tell (a pod starts on a busy machine)."""
    process = await asyncio.create_subprocess_exec(
        "iptables-save",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise FirewallError(f"iptables-save: {err.decode().strip()}")
    return out.decode()


async def _unhook(table: str, builtin: str, chain: str) -> None:
    # -C answers 1 once no such rule is left.
    while (await _iptables("-t", table, "-C", builtin, "-j", chain))[0] == 0:
        await _must("-t", table, "-D", builtin, "-j", chain)


def ensure_bridge_netfilter() -> bool:
    """Make bridged IPv4 traffic pass iptables (br_netfilter); returns whether it does.

    The setting is per network namespace. Without it, pod-to-pod traffic on
    one node's bridge bypasses the firewall and port mapping (traffic between
    nodes is routed, so it is filtered either way).
    """
    if not BRIDGE_NETFILTER.exists() and shutil.which("modprobe"):
        loaded = subprocess.run(["modprobe", "br_netfilter"], capture_output=True, text=True)
        if loaded.returncode != 0:
            log.warning("modprobe br_netfilter: %s", loaded.stderr.strip())
    try:
        _switch_on(BRIDGE_NETFILTER)
        return True
    except OSError as error:
        log.error(
            "br_netfilter is not available (%s: %s; try `modprobe br_netfilter`): pods on this "
            "node reach each other's undeclared ports, and their mapped ports are not mapped",
            BRIDGE_NETFILTER,
            error.strerror,
        )
        return False


def ensure_liberal_tcp_conntrack() -> bool:
    """Stop conntrack from marking out-of-window TCP packets invalid; returns whether it does.

    A packet conntrack calls invalid skips NAT: to or from a mapped port
    ("80:3000") it meets no socket and is answered with a reset, or a SYN of
    a new connection on a recycled source port goes unanswered for a second.
    Measured through the ingress to a pod that closes each connection:
    ~100 invalid packets and a p99 of up to 1 s per 100,000 connections, none
    with this set. kind sets it, and kube-proxy offers it, for the same reason
    (kubernetes#117924, moby/libnetwork#1090). The setting is per network
    namespace.
    """
    try:
        _switch_on(CONNTRACK_TCP_LIBERAL)
        return True
    except OSError as error:
        log.warning(
            "%s: %s; connections to mapped ports may be reset or stall now and then",
            CONNTRACK_TCP_LIBERAL,
            error.strerror,
        )
        return False


def _switch_on(setting: Path) -> None:
    """Set a 0/1 kernel setting to 1 (and say so), unless it is already."""
    if setting.read_text().strip() != "1":
        setting.write_text("1\n")
        log.info("enabled %s", setting)
