"""The node's DNS server: authoritative for the cluster domain, a forwarder for the rest.

Answers come from an in-memory `Zone` that the node changes by the records
that changed under /skydns/ (`RecordChanges`, store/dns_store.py); no query
ever reads etcd. Encoded answers are cached by the query's bytes after its ID,
so a repeated question costs a dictionary lookup and a two-byte patch;
dnspython parses and renders only on a miss. A change drops the cached answers
of the names it touches (its record's name and those above it, and SRV answers
pointing at it), not the whole cache: with 200 health changes a second
anywhere in the cluster, emptying it made nearly every query a miss. Each
query is counted in the server's `DnsTally` (`metrics/dns.py`), which a scrape
reads. (Parsing every query with dnspython reaches about a twentieth of
dnsmasq's rate; the cache on uvloop reaches about as much as dnsmasq.)

Sockets can be bound with IP_FREEBIND: the pod network's gateway address
exists only while podman's bridge is up, which it is only while a container
uses the network. A freely bound socket listens on the address before the
bridge exists and keeps listening while the bridge comes and goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.zone import Zone
from ozymandias.metrics.dns import Cell, DnsCollector, DnsTally
from ozymandias.metrics.families import registered
from ozymandias.store.dns_store import RecordChanges

log = logging.getLogger(__name__)

DEFAULT_PORT = 5353
# Linux's IP_FREEBIND (linux/in.h); Python's socket module does not name it.
IP_FREEBIND = 15
UDP_PLAIN_LIMIT = 512  # RFC 1035's limit for a UDP answer without EDNS
TCP_LIMIT = 65535
UPSTREAM_TIMEOUT_SECONDS = 2.0
TCP_IDLE_SECONDS = 10.0
# Bounds the memory of the cache against clients asking for ever-new names.
CACHE_ENTRIES = 10_000


@dataclass(frozen=True)
class Listener:
    host: str
    port: int
    freebind: bool = False


def upstream_resolvers(resolv_conf: Path, exclude: Iterable[str]) -> list[tuple[str, int]]:
    """The nameservers of a resolv.conf, minus our own addresses (no forwarding loops)."""
    try:
        lines = resolv_conf.read_text().splitlines()
    except OSError:
        return []
    excluded = set(exclude)
    servers = [line.split()[1] for line in lines if line.startswith("nameserver") and " " in line]
    return [(server, 53) for server in servers if server not in excluded]


class DnsListenError(OSError):
    """A listening address or port is taken or unavailable."""


class DnsServer:
    def __init__(self, domain: str, upstreams: list[tuple[str, int]]) -> None:
        self.domain = domain
        self.upstreams = upstreams
        self._zone = Zone(domain, [])
        self.tally = DnsTally()
        # The answer after its ID, and the tally of the queries it answers.
        self._cache: dict[bytes, tuple[bytes, Cell]] = {}
        # The cache's keys by the names their answers were made of, so a change drops
        # only the answers it touches (keys already dropped may linger: popping one
        # twice is harmless, and the sets go with the cache when it is full).
        self._cached_by_name: dict[str, set[bytes]] = {}

    def update(self, records: Iterable[DnsRecord], serial: int) -> None:
        """Serve this record set from now on."""
        self._zone = Zone(self.domain, records, serial)
        self._empty_cache()

    def apply(self, changes: Mapping[str, DnsRecord | None], serial: int) -> None:
        """Serve these records in place of those at their names (None: no record there
        any more), forgetting the cached answers they touch and no others. (A cached
        negative answer elsewhere keeps the SOA serial it was made with: resolvers read
        its TTLs, and no secondary transfers this zone.)"""
        touched: set[str] = set()
        for name, record in changes.items():
            if record is None:
                self._zone.delete(name)
            else:
                self._zone.put(record)
            touched.update(self._zone.affected(name))
        self._zone.set_serial(serial)
        for name in touched:
            for key in self._cached_by_name.pop(name, ()):
                self._cache.pop(key, None)

    def _empty_cache(self) -> None:
        self._cache = {}
        self._cached_by_name = {}

    async def serve(self, listeners: Iterable[Listener]) -> None:
        """Answer on UDP and TCP on every listener until cancelled."""
        loop = asyncio.get_running_loop()
        transports: list[asyncio.DatagramTransport] = []
        servers: list[asyncio.Server] = []
        try:
            for listener in listeners:
                udp = _bound_socket(listener, socket.SOCK_DGRAM)
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), sock=udp
                )
                transports.append(transport)
                tcp = _bound_socket(listener, socket.SOCK_STREAM)
                servers.append(await asyncio.start_server(self._serve_tcp, sock=tcp))
                log.info("DNS for %s on %s:%d", self.domain, listener.host, listener.port)
            await asyncio.Future()  # until cancelled
        finally:
            for transport in transports:
                transport.close()
            for server in servers:
                server.close()

    def cached(self, query: bytes, limit: int) -> bytes | None:
        """The cached answer to `query` with its ID, if there is one (then counted)."""
        entry = self._cache.get(limit.to_bytes(2) + query[2:])
        if entry is None:
            return None
        body, count = entry
        count[0] += 1
        self.tally.hits += 1
        return query[:2] + body

    async def respond(self, query: bytes, limit: int) -> bytes | None:
        """The answer to one query of at most `limit` bytes; None for garbage to drop."""
        cached = self.cached(query, limit)
        if cached is not None:
            return cached
        self.tally.misses += 1
        try:
            message = dns.message.from_wire(query)
        except dns.exception.DNSException:
            answer = _format_error(query)
            if answer is not None:
                self.tally.count(None, answer)
            return answer
        rdtype = message.question[0].rdtype if message.question else None
        if len(message.question) != 1 or message.opcode() != 0:
            response = dns.message.make_response(message)
            response.set_rcode(dns.rcode.NOTIMP)
            wire = response.to_wire()
            self.tally.count(rdtype, wire)
            return wire
        # Over UDP, EDNS lets the client accept more than 512 bytes.
        size = max(limit, message.payload) if limit == UDP_PLAIN_LIMIT else limit
        if not self._zone.covers(message.question[0].name):
            wire = await self._forward(message, size)
            self.tally.count(rdtype, wire)
            return wire
        wire = _render(self._zone.answer(message), size)
        count = self.tally.cell(rdtype, wire)
        count[0] += 1
        if len(self._cache) >= CACHE_ENTRIES:
            self._empty_cache()
        key = limit.to_bytes(2) + query[2:]
        self._cache[key] = (wire[2:], count)
        question = message.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        for depended in self._zone.depends_on(name, question.rdtype):
            self._cached_by_name.setdefault(depended, set()).add(key)
        return wire

    async def _forward(self, message: dns.message.Message, limit: int) -> bytes:
        query = dns.asyncquery.tcp if limit == TCP_LIMIT else dns.asyncquery.udp
        for host, port in self.upstreams:
            try:
                answer = await query(message, host, port=port, timeout=UPSTREAM_TIMEOUT_SECONDS)
                return _render(answer, limit)
            except (OSError, dns.exception.DNSException) as error:
                log.debug("upstream %s failed for %s: %s", host, message.question[0], error)
        response = dns.message.make_response(message)
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_SECONDS):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    query = await reader.readexactly(length)
                answer = await self.respond(query, TCP_LIMIT)
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self._transport is not None
        # The hot path: answered from the cache without leaving this callback.
        cached = self._server.cached(data, UDP_PLAIN_LIMIT)
        if cached is not None:
            self._transport.sendto(cached, addr)
            return
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            answer = await self._server.respond(data, UDP_PLAIN_LIMIT)
        except Exception:
            log.exception("DNS query from %s failed", addr)
            return
        if answer is not None and self._transport is not None:
            self._transport.sendto(answer, addr)


def _render(response: dns.message.Message, limit: int) -> bytes:
    """The response in wire format, truncated (TC set, no records) if over `limit`."""
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.flags |= dns.flags.TC
        response.answer, response.authority, response.additional = [], [], []
        return response.to_wire(max_size=limit)


def _format_error(query: bytes) -> bytes | None:
    if len(query) < 12:
        return None  # not even a header: nothing to answer
    flags = int.from_bytes(query[2:4])
    reply_flags = 0x8000 | (flags & 0x7900) | dns.rcode.FORMERR  # QR, opcode and RD kept
    return query[:2] + reply_flags.to_bytes(2) + bytes(8)


def _bound_socket(listener: Listener, kind: socket.SocketKind) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            # Only for TCP: for UDP it would let two servers share a port silently.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if listener.freebind:
            sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        sock.bind((listener.host, listener.port))
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        protocol = "TCP" if kind == socket.SOCK_STREAM else "UDP"
        raise DnsListenError(
            f"the DNS server cannot listen on {listener.host}:{listener.port}/{protocol}: "
            f"{error.strerror} (another DNS server there? see --dns-port)"
        ) from error
    return sock


async def serve_records(
    server: DnsServer, records: RecordChanges, listeners: Iterable[Listener]
) -> None:
    """Serve the cluster's records, changing the zone by the records that changed (all
    of them after a scan), until cancelled.

    Meanwhile, scrapes read the server's tally (registered for this run: one
    term of membership).
    """
    await records.wait_synced()
    whole, _, revision = records.take()
    server.update((whole or {}).values(), revision)
    with registered(DnsCollector(server.tally)):
        async with asyncio.TaskGroup() as group:
            group.create_task(server.serve(listeners))
            while True:
                await records.wait_for_change(revision)
                whole, changes, revision = records.take()
                if whole is not None:
                    server.update(whole.values(), revision)
                else:
                    server.apply(changes, revision)
