"""The clients of bench/control_plane_cross_node.py: what each node answers, and when a status
changed in etcd (issue #21).

- `StatusWatcher` follows one instance's status key in etcd and stamps each
  health change with the moment its watch delivers it: the same moment, give
  or take a millisecond, as the nodes' own watches receive it, so the clock of
  the propagation starts there.
- `NodeProbes` polls one node's DNS (its port on 127.0.0.1 inside the host's
  network namespace: a UDP socket made there, see `udp_socket_in`) and its
  ingress (port 80 on the host's address, with the job's Host header).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import socket
import threading
import time
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import httpx

from ozymandias.cluster.records import Health, InstanceStatus
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd

POLL = 0.005  # between two questions of one probe: fine enough for figures in ms
CLONE_NEWNET = 0x40000000


def udp_socket_in(netns: str) -> socket.socket:
    """A non-blocking UDP socket of the named network namespace (`ip netns add`).

    A namespace is a property of the thread that enters it (setns(2)), and a
    socket keeps the namespace it was made in: a short-lived thread enters,
    makes it and ends, and this process stays where it was.
    """
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def enter_and_make() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            with open(f"/run/netns/{netns}", "rb") as handle:
                if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns}")
            made.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        except BaseException as error:  # handed to the caller's thread
            failed.append(error)

    thread = threading.Thread(target=enter_and_make, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    made[0].setblocking(False)
    return made[0]


@dataclass
class StatusWatcher:
    """Health changes of one instance's status, as etcd's watch delivers them."""

    etcd: Etcd
    job: str
    index: int
    changes: list[tuple[float, Health]] = field(default_factory=list)  # perf_counter, health
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, start_revision: int) -> None:
        last: Health | None = None
        async for event in self.etcd.watch_prefix(
            keys.instance(self.job, self.index), start_revision
        ):
            if event.value is None:
                continue
            health = InstanceStatus.model_validate_json(event.value).health
            if health != last:
                self.changes.append((time.perf_counter(), health))
                self._changed.set()
                last = health

    async def seen(self, health: Health, after: float, deadline: float) -> float | None:
        """When the watch delivered a change to `health` later than `after`; None past the
        deadline (a perf_counter time)."""
        while True:
            for stamp, value in self.changes:
                if stamp >= after and value == health:
                    return stamp
            self._changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@dataclass
class NodeProbes:
    """Questions to one node: does its DNS answer the instance's name, does its ingress route
    the job's host."""

    label: str
    netns: str
    address: str
    dns_port: int
    _sock: socket.socket | None = None
    _client: httpx.AsyncClient | None = None
    _query_id: int = 0

    async def __aenter__(self) -> NodeProbes:
        self._sock = udp_socket_in(self.netns)
        self._client = httpx.AsyncClient(timeout=2)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._client is not None:
            await self._client.aclose()

    async def dns_answers(self, name: str) -> bool | None:
        """Whether the node's DNS has an A record for `name`; None if it did not answer."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        query = dns.message.make_query(name, "A")
        self._query_id = (self._query_id + 1) % 65536
        query.id = self._query_id
        await loop.sock_sendto(self._sock, query.to_wire(), ("127.0.0.1", self.dns_port))
        try:
            async with asyncio.timeout(1):
                while True:
                    response = dns.message.from_wire(await loop.sock_recv(self._sock, 65535))
                    if response.id == query.id:  # a late answer to an earlier question: skip
                        break
        except TimeoutError:
            return None
        return response.rcode() == dns.rcode.NOERROR and any(
            len(rrset) for rrset in response.answer
        )

    async def ingress_routes(self, host: str) -> bool | None:
        """Whether the node's HAProxy sends `host` to a backend (200) rather than answering
        itself that none is up (503); None if it did not answer."""
        assert self._client is not None
        try:
            response = await self._client.get(f"http://{self.address}/", headers={"host": host})
        except httpx.TransportError:
            return None
        return response.status_code == 200

    async def until(self, kind: str, subject: str, wanted: bool, deadline: float) -> float | None:
        """The perf_counter time the probe `kind` ("dns" or "ingress") first answered
        `wanted` about `subject`; None past the deadline."""
        ask = self.dns_answers if kind == "dns" else self.ingress_routes
        while time.perf_counter() < deadline:
            if await ask(subject) == wanted:
                return time.perf_counter()
            await asyncio.sleep(POLL)
        return None
