"""The DNS metrics: labels by query type and response code, and the cache's hits and misses."""

from __future__ import annotations

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from prometheus_client import REGISTRY

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.server import TCP_LIMIT, UDP_PLAIN_LIMIT, DnsServer
from ozymandias.metrics.dns import qtype_label, rcode_label


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


def queries(qtype: str, rcode: str) -> float:
    value = REGISTRY.get_sample_value("ozy_dns_queries_total", {"qtype": qtype, "rcode": rcode})
    return value or 0.0


def cache(outcome: str) -> float:
    return REGISTRY.get_sample_value(f"ozy_dns_cache_{outcome}_total") or 0.0


def wire(name: str, rdtype: str) -> bytes:
    return dns.message.make_query(name, rdtype).to_wire()


async def test_every_query_is_counted_once_with_its_type_code_and_cache_outcome() -> None:
    server = DnsServer("cluster.local", upstreams=[])
    server.update([DnsRecord("web-0.web.job.cluster.local", "10.0.0.2")], serial=1)
    before = {
        "a": queries("A", "NOERROR"),
        "srv": queries("SRV", "NXDOMAIN"),
        "out": queries("A", "SERVFAIL"),
        "junk": queries("none", "FORMERR"),
        "hits": cache("hits"),
        "misses": cache("misses"),
    }
    known = wire("web-0.web.job.cluster.local", "A")
    await server.respond(known, UDP_PLAIN_LIMIT)  # a miss: answered from the zone, then cached
    await server.respond(known, UDP_PLAIN_LIMIT)  # a hit
    assert server.cached(known, UDP_PLAIN_LIMIT) is not None  # the UDP hot path: a hit too
    await server.respond(known, TCP_LIMIT)  # another cache entry: a miss
    await server.respond(wire("nope.web.job.cluster.local", "SRV"), UDP_PLAIN_LIMIT)
    await server.respond(wire("example.org", "A"), UDP_PLAIN_LIMIT)  # no upstream: SERVFAIL
    await server.respond(b"\x12\x34" + bytes(10) + b"\xff", UDP_PLAIN_LIMIT)  # not a message
    assert await server.respond(b"\x00", UDP_PLAIN_LIMIT) is None  # not even a header: dropped

    assert queries("A", "NOERROR") - before["a"] == 4
    assert queries("SRV", "NXDOMAIN") - before["srv"] == 1
    assert queries("A", "SERVFAIL") - before["out"] == 1
    assert queries("none", "FORMERR") - before["junk"] == 1
    assert cache("hits") - before["hits"] == 2
    # The dropped one was looked for too: hits and misses count every query received.
    assert cache("misses") - before["misses"] == 6
