"""The DNS metrics: labels by query type and response code, and the cache's hits and misses."""

from __future__ import annotations

import asyncio
import contextlib

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.server import TCP_LIMIT, UDP_PLAIN_LIMIT, DnsServer, serve_records
from ozymandias.metrics.dns import DnsCollector, DnsTally, qtype_label, rcode_label
from tests.support.waiting import eventually


@pytest.mark.parametrize(
    ("rdtype", "label"),
    [
        (dns.rdatatype.A, "A"),
        (dns.rdatatype.AAAA, "AAAA"),
        (dns.rdatatype.SRV, "SRV"),
        (dns.rdatatype.PTR, "PTR"),
        (dns.rdatatype.HTTPS, "HTTPS"),
        (dns.rdatatype.NAPTR, "other"),
        (65000, "other"),  # a private-use type: no series of its own
        (None, "none"),
    ],
)
def test_query_types_are_named_or_pooled(rdtype: int | None, label: str) -> None:
    assert qtype_label(rdtype) == label


@pytest.mark.parametrize(
    ("rcode", "label"),
    [
        (dns.rcode.NOERROR, "NOERROR"),
        (dns.rcode.NXDOMAIN, "NXDOMAIN"),
        (dns.rcode.SERVFAIL, "SERVFAIL"),
        (dns.rcode.FORMERR, "FORMERR"),
        (dns.rcode.NOTIMP, "NOTIMP"),
    ],
)
def test_the_response_code_is_read_from_the_header(rcode: int, label: str) -> None:
    response = dns.message.make_response(dns.message.make_query("a.example.", "A"))
    response.set_rcode(dns.rcode.Rcode.make(rcode))
    assert rcode_label(response.to_wire()) == label


def wire(name: str, rdtype: str) -> bytes:
    return dns.message.make_query(name, rdtype).to_wire()


async def test_every_query_is_counted_once_with_its_type_code_and_cache_outcome() -> None:
    server = DnsServer("cluster.local", upstreams=[])
    server.update([DnsRecord("web-0.web.job.cluster.local", "10.0.0.2")], serial=1)
    known = wire("web-0.web.job.cluster.local", "A")
    await server.respond(known, UDP_PLAIN_LIMIT)  # a miss: answered from the zone, then cached
    await server.respond(known, UDP_PLAIN_LIMIT)  # a hit
    assert server.cached(known, UDP_PLAIN_LIMIT) is not None  # the UDP hot path: a hit too
    await server.respond(known, TCP_LIMIT)  # another cache entry: a miss
    await server.respond(wire("nope.web.job.cluster.local", "SRV"), UDP_PLAIN_LIMIT)
    await server.respond(wire("example.org", "A"), UDP_PLAIN_LIMIT)  # no upstream: SERVFAIL
    await server.respond(b"\x12\x34" + bytes(10) + b"\xff", UDP_PLAIN_LIMIT)  # not a message
    assert await server.respond(b"\x00", UDP_PLAIN_LIMIT) is None  # not even a header: dropped

    assert server.tally.queries() == {
        ("A", "NOERROR"): 4,
        ("SRV", "NXDOMAIN"): 1,
        ("A", "SERVFAIL"): 1,
        ("none", "FORMERR"): 1,
    }
    assert server.tally.hits == 2
    # The dropped one was looked for too: hits and misses count every query received.
    assert server.tally.misses == 6


def test_a_scrape_reads_the_tally_as_counters() -> None:
    tally = DnsTally()
    answer = dns.message.make_response(dns.message.make_query("a.example.", "A")).to_wire()
    for _ in range(3):
        tally.count(dns.rdatatype.AAAA, answer)
    tally.hits, tally.misses = 5, 7
    registry = CollectorRegistry()
    registry.register(DnsCollector(tally))
    labels = {"qtype": "AAAA", "rcode": "NOERROR"}
    assert registry.get_sample_value("ozy_dns_queries_total", labels) == 3
    assert registry.get_sample_value("ozy_dns_cache_hits_total") == 5
    assert registry.get_sample_value("ozy_dns_cache_misses_total") == 7
    exposition = generate_latest(registry).decode()
    assert "# TYPE ozy_dns_queries_total counter" in exposition


async def test_the_tally_is_registered_while_the_server_serves() -> None:
    server = DnsServer("cluster.local", upstreams=[])
    records = FakeRecords()
    task = asyncio.create_task(serve_records(server, records, []))  # type: ignore[arg-type]
    try:
        await eventually(lambda: hits() is not None, "the tally registered")
        server.tally.hits = 11
        assert hits() == 11
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert hits() is None


def hits() -> float | None:
    return REGISTRY.get_sample_value("ozy_dns_cache_hits_total")


class FakeRecords:
    """What `serve_records` reads of the record changes: synced at once, and never
    changing."""

    async def wait_synced(self) -> None:
        pass

    def take(self) -> tuple[dict[str, DnsRecord], dict[str, DnsRecord | None], int]:
        return {}, {}, 1

    async def wait_for_change(self, revision: int) -> int:
        await asyncio.Event().wait()
        return revision
