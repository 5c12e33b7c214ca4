"""Routes and tunnels in the node's network namespace: the only module that runs `ip` and `bridge`.

Before any private range is used for pods, it is blackholed: a packet to a pod
address that is not up yet (or no longer) is then dropped on this host rather
than sent out through the default gateway. More specific routes (a node's own
pod bridge, routes to other nodes' pod subnets) still win over the blackhole.

Routes to other nodes' pod subnets come from one of two backends, as in
flannel:

- `HostGateway` ("host-gw"): the peer's pod subnet via the peer's host
  address. Needs every node on one L2 segment.
- `Vxlan`: a vxlan device (VNI 1, UDP 8472, like flannel's), no learning;
  each peer gets a static route via its tunnel endpoint address, a permanent
  neighbour entry and an FDB entry pointing at its host. Works across routed
  networks.

Every route this module adds carries protocol number `ROUTE_PROTOCOL`, so the
routes it owns are found again after a crash and nobody else's are touched.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from typing import Any, Protocol

from ozymandias.child_process import run_program

log = logging.getLogger(__name__)

ROUTE_PROTOCOL = "213"
VXLAN_DEVICE = "ozy.vxlan"
VXLAN_ID = "1"
VXLAN_PORT = "8472"
# A 1500-byte underlay less what vxlan adds to each packet (outer IPv4, UDP,
# vxlan and Ethernet headers), as flannel's FLANNEL_MTU.
VXLAN_MTU = 1450


class RouteError(RuntimeError):
    pass


async def _run(program: str, *arguments: str) -> str:
    return await run_program(program, *arguments, error=RouteError)


async def _ip(*arguments: str) -> str:
    return await _run("ip", *arguments)


async def _ip_json(*arguments: str) -> list[dict[str, Any]]:
    out = await _ip("-j", *arguments)
    return list(json.loads(out)) if out.strip() else []


# The blackhole


async def interface_networks() -> list[tuple[str, str]]:
    """(interface, network) of every IPv4 address on this host, e.g. ("eth0", "10.0.0.0/24")."""
    networks = []
    for link in await _ip_json("-4", "addr"):
        for address in link.get("addr_info", []):
            if "local" in address and "prefixlen" in address:
                interface = ipaddress.ip_interface(f"{address['local']}/{address['prefixlen']}")
                networks.append((str(link["ifname"]), str(interface.network)))
    return networks


async def has_blackhole(cidr: str) -> bool:
    return bool(await _ip_json("route", "show", "type", "blackhole", cidr))


async def ensure_blackhole(cidr: str) -> bool:
    """Blackhole `cidr` unless it already is; returns whether this call added it."""
    if await has_blackhole(cidr):
        return False
    await _ip("route", "add", "blackhole", cidr)
    log.info("blackholed %s in the root namespace", cidr)
    return True


async def remove_blackhole(cidr: str) -> None:
    if await has_blackhole(cidr):
        await _ip("route", "del", "blackhole", cidr)
        log.info("removed the blackhole for %s", cidr)


# Routes to other nodes' pod subnets


class PeerRouteBackend(Protocol):
    """How packets for another node's pod subnet reach that node."""

    pod_mtu: int | None
    """The MTU pods must use (None: podman's default)."""

    async def setup(self) -> None: ...

    async def current(self) -> dict[str, str]:
        """The peer routes in place: pod subnet -> the peer's host address."""
        ...

    async def set_peer(self, subnet: str, address: str) -> None: ...

    async def remove_peer(self, subnet: str) -> None: ...

    async def teardown(self) -> None: ...


class HostGateway:
    """flannel's host-gw: a plain route to each peer's pod subnet via its host address."""

    pod_mtu: int | None = None

    async def setup(self) -> None:
        """Nothing to set up: routes go through the host's own interfaces."""

    async def current(self) -> dict[str, str]:
        routes = await _ip_json("route", "show", "proto", ROUTE_PROTOCOL)
        return {route["dst"]: route["gateway"] for route in routes if "gateway" in route}

    async def set_peer(self, subnet: str, address: str) -> None:
        await _ip("route", "replace", subnet, "via", address, "proto", ROUTE_PROTOCOL)

    async def remove_peer(self, subnet: str) -> None:
        await _ip("route", "del", subnet, "proto", ROUTE_PROTOCOL)

    async def teardown(self) -> None:
        for subnet in await self.current():
            await self.remove_peer(subnet)


def vtep_address(subnet: str) -> str:
    """A node's tunnel endpoint address (the next hop of routes to it): its pod subnet's
    network address, as flannel uses."""
    return str(ipaddress.IPv4Network(subnet).network_address)


def vtep_mac(subnet: str) -> str:
    """A node's tunnel endpoint MAC, derived from its pod subnet, so peers need not be told it.

    Locally administered (02:…), unique while subnets are.
    """
    octets = ipaddress.IPv4Network(subnet).network_address.packed
    return "02:7a:" + ":".join(f"{octet:02x}" for octet in octets)


class Vxlan:
    """flannel's vxlan backend, with static entries for every peer (no learning)."""

    pod_mtu: int | None = VXLAN_MTU

    def __init__(self, own_subnet: str, local_address: str) -> None:
        self._subnet = own_subnet
        self._local = local_address

    async def setup(self) -> None:
        """Create the vxlan device, or keep the one a previous run left if it still fits."""
        existing = await _vxlan_device()
        if existing is not None and not self._fits(existing):
            await _ip("link", "del", VXLAN_DEVICE)
            existing = None
        if existing is None:
            await _ip(
                "link", "add", VXLAN_DEVICE, "address", vtep_mac(self._subnet),
                "mtu", str(VXLAN_MTU), "type", "vxlan", "id", VXLAN_ID, "local", self._local,
                "dstport", VXLAN_PORT, "nolearning",
            )  # fmt: skip
            log.info("created %s (local %s)", VXLAN_DEVICE, self._local)
        # No address on the device (flannel gives its .0/32): podman then refuses to
        # create a network with the subnet, "already used on the host". Routes via a
        # peer's endpoint are onlink and its MAC is static, so none is needed.
        await _ip("link", "set", VXLAN_DEVICE, "up")

    def _fits(self, device: dict[str, Any]) -> bool:
        data = device.get("linkinfo", {}).get("info_data", {})
        return bool(
            device.get("address") == vtep_mac(self._subnet)
            and str(data.get("id")) == VXLAN_ID
            and data.get("local") == self._local
            and str(data.get("port")) == VXLAN_PORT
            and device.get("mtu") == VXLAN_MTU
        )

    async def current(self) -> dict[str, str]:
        routes = await _ip_json("route", "show", "proto", ROUTE_PROTOCOL, "dev", VXLAN_DEVICE)
        destinations = {
            entry["mac"]: entry["dst"]
            for entry in json.loads(await _run("bridge", "-j", "fdb", "show", "dev", VXLAN_DEVICE))
            if "dst" in entry
        }
        return {
            route["dst"]: destinations.get(vtep_mac(route["dst"]), "")
            for route in routes
            if "dst" in route
        }

    async def set_peer(self, subnet: str, address: str) -> None:
        mac, vtep = vtep_mac(subnet), vtep_address(subnet)
        await _ip("neigh", "replace", vtep, "lladdr", mac, "dev", VXLAN_DEVICE, "nud", "permanent")
        await _run("bridge", "fdb", "replace", mac, "dev", VXLAN_DEVICE, "dst", address)
        await _ip(
            "route", "replace", subnet, "via", vtep, "dev", VXLAN_DEVICE, "onlink",
            "proto", ROUTE_PROTOCOL,
        )  # fmt: skip

    async def remove_peer(self, subnet: str) -> None:
        mac, vtep = vtep_mac(subnet), vtep_address(subnet)
        await _ip("route", "del", subnet, "proto", ROUTE_PROTOCOL, "dev", VXLAN_DEVICE)
        await _ip("neigh", "del", vtep, "dev", VXLAN_DEVICE)
        await _run("bridge", "fdb", "del", mac, "dev", VXLAN_DEVICE)

    async def teardown(self) -> None:
        """Removing the device takes its routes, neighbours and FDB entries with it."""
        if await _vxlan_device() is not None:
            await _ip("link", "del", VXLAN_DEVICE)


async def _vxlan_device() -> dict[str, Any] | None:
    devices = await _ip_json("-d", "link", "show", "type", "vxlan")
    return next((device for device in devices if device.get("ifname") == VXLAN_DEVICE), None)
