"""Port mapping and the pod firewall: the only module that runs iptables.

Every rule lives in chains the node owns and names after itself; what they
hold, and why, is in `firewall_rules.py`, whose pure functions compute it
from the pods' addresses and ports, the ports open to pods and the other
hosts' addresses. The chains are replaced as a whole on every change with
one `iptables-restore --noflush` call per change, which is atomic and leaves
every other chain alone. A node starting after a crash replaces whatever the
previous run left with the pods it adopts (see `reset`).

Rules on a bridge see bridged traffic (pod to pod on one node) only with
br_netfilter's `bridge-nf-call-iptables`; `ensure_bridge_netfilter` checks it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path
from typing import Protocol

from ozymandias.network.firewall_rules import (
    DEFAULT_CONTROL_PORTS,
    DEFAULT_HOST_PORTS_OPEN_TO_PODS,
    Isolation,
    PortOrRange,
    rehook,
    render,
)
from ozymandias.network.firewall_rules import Chains as Chains
from ozymandias.network.firewall_rules import PodPorts as PodPorts

log = logging.getLogger(__name__)

BRIDGE_NETFILTER = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
CONNTRACK_TCP_LIBERAL = Path("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal")


class FirewallError(RuntimeError):
    pass


class PodFirewall(Protocol):
    """What the node agent asks of the firewall as pods come and go."""

    async def open_pod(self, pod_name: str, pod: PodPorts) -> None: ...

    async def close_pod(self, pod_name: str) -> None: ...

    async def reset(self, pods: Mapping[str, PodPorts]) -> None:
        """Exactly these pods, nothing else (after adopting the pods of a previous run)."""
        ...


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
    """Keeps the node's chains equal to the rules of the pods it runs and the hosts it knows."""

    def __init__(
        self,
        node_name: str,
        pod_subnet: str,
        cluster_cidr: str,
        *,
        host_ports_open_to_pods: Iterable[PortOrRange] = DEFAULT_HOST_PORTS_OPEN_TO_PODS,
        control_ports: Iterable[int] = DEFAULT_CONTROL_PORTS,
        control_hosts: Iterable[IPv4Address] = (),
    ) -> None:
        """`host_ports_open_to_pods`: the TCP ports (and (first, last) ranges) of this
        host the pods may reach besides its DNS server: the ingress's; `control_ports`:
        the TCP ports they may reach on no host (the API's, etcd's); `control_hosts`:
        the other hosts that serve them besides the peer nodes (etcd's), which
        `set_peers` tells as they come and go. Raises ValueError for a bad port."""
        self.chains = Chains.for_node(node_name)
        self._subnet = pod_subnet
        self._cluster = cluster_cidr
        self._pods: dict[str, PodPorts] = {}
        self._static_hosts = frozenset(control_hosts)
        self._isolation = Isolation(
            host_ports_open_to_pods=tuple(host_ports_open_to_pods),
            control_ports=tuple(control_ports),
            control_hosts=dict.fromkeys(self._static_hosts, frozenset()),
        )
        # What the last iptables-restore wrote: a pod without ports changes nothing.
        self._applied: str | None = None
        self._lock = asyncio.Lock()
        # Until the agent has adopted the pods a previous run left (`reset`), their port
        # mappings are known only to the chains that run left: rewriting the chains before
        # then would close those ports for a moment.
        self._pods_known = False

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
            self._pods_known = False
            self._applied = None
            for table, builtin, chain in self.chains.jumps():
                await _unhook(table, builtin, chain)
            for table, chain in self.chains.owned():
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
            self._pods_known = True
            await self._apply(await _saved_rules())

    async def set_peers(self, peers: Mapping[IPv4Address, frozenset[int]]) -> None:
        """The other nodes' host addresses, each with its own API port(s): refused to pods."""
        hosts = dict.fromkeys(self._static_hosts, frozenset[int]())
        for address, ports in peers.items():
            hosts[address] = hosts.get(address, frozenset()) | ports
        async with self._lock:
            if hosts != self._isolation.control_hosts:
                self._isolation = replace(self._isolation, control_hosts=hosts)
                if self._pods_known:  # else `reset` applies it, with the pods' ports
                    await self._apply(await _saved_rules())

    def _chains_in(self, saved: str) -> bool:
        declared = {line.split()[0] for line in saved.splitlines() if line.startswith(":")}
        return all(f":{chain}" in declared for _, chain in self.chains.owned())

    async def _apply(self, saved: str) -> None:
        """Write the chains (unless they hold this already) and hook them in first.

        `saved` is the ruleset as it was before: a change of ours never
        touches the built-in chains, so it still tells where the jumps stand.
        """
        rules = render(self.chains, self._subnet, self._cluster, self._pods, self._isolation)
        # Most pods declare no port, so their start changes no rule; chains someone
        # else deleted (a firewall reload) are written again.
        if rules != self._applied or not self._chains_in(saved):
            await _must("--noflush", stdin=rules, program="iptables-restore")
            self._applied = rules
        await self._hook_in_first(saved)

    async def _hook_in_first(self, saved: str) -> None:
        """Make each jump into our chains precede every rule but other nodes' jumps.

        podman (netavark) inserts its own jumps at the top whenever the first
        pod joins its network, and its FORWARD chain accepts everything from
        the pod subnet: behind it, our filter would never see traffic between
        pods of this node. So the order is checked again after every change;
        pods join before their ports are opened. A move is one iptables-restore,
        so the jump is never missing while it moves (see `rehook`).
        """
        moves = rehook(saved, self.chains.jumps())
        if moves:
            await _must("--noflush", stdin=moves, program="iptables-restore")


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
