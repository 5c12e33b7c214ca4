"""The zone changed record by record answers as one built from scratch, and the server's
answer cache never serves an answer a change has made stale."""

from __future__ import annotations

import asyncio
import re

import dns.message
import dns.rdatatype
from hypothesis import given, settings
from hypothesis import strategies as st

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.server import UDP_PLAIN_LIMIT, DnsServer
from ozymandias.dns.zone import Zone

DOMAIN = "cluster.local"
PODS = ["web-0.pod.cluster.local", "web-1.pod.cluster.local", "db-0.pod.cluster.local"]
AT_JOB = ["web-0.web.job.cluster.local", "web-1.web.job.cluster.local", "db-0.db.job.cluster.local"]
SRV = ["web-0._80._tcp.web.job.cluster.local", "db-0._5432._tcp.db.job.cluster.local"]
ADDRESSES = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
ASKED = sorted(
    {name for record in PODS + AT_JOB + SRV for name in Zone(DOMAIN, []).affected(record)}
    | {"nope.job.cluster.local", "_80._tcp.web.job.cluster.local"}
)
SERIAL = re.compile(r"SOA .*")
TYPES = [dns.rdatatype.A, dns.rdatatype.SRV, dns.rdatatype.AAAA, dns.rdatatype.SOA]


@st.composite
def changes(draw: st.DrawFn) -> tuple[str, DnsRecord | None]:
    """One name's new record, or None for its deletion."""
    name = draw(st.sampled_from(PODS + AT_JOB + SRV))
    if draw(st.booleans()):
        return name, None
    ttl = draw(st.sampled_from([30, 60]))
    if name in SRV:
        return name, DnsRecord(name, draw(st.sampled_from(PODS)), port=3000, ttl=ttl)
    # A host that is a name, not an address: the record makes its names exist, no more.
    host = draw(st.sampled_from([*ADDRESSES, "elsewhere.example"]))
    return name, DnsRecord(name, host, ttl=ttl)


def answers(zone: Zone) -> dict[tuple[str, int], str]:
    """Every asked name and type's response, as text without the ID."""
    found: dict[tuple[str, int], str] = {}
    for name in ASKED:
        for rdtype in TYPES:
            query = dns.message.make_query(name, rdtype)
            query.id = 1
            found[name, rdtype] = zone.answer(query).to_text()
    return found


def final(steps: list[tuple[str, DnsRecord | None]]) -> list[DnsRecord]:
    records: dict[str, DnsRecord | None] = {}
    for name, record in steps:
        records[name] = record
    return [record for record in records.values() if record is not None]


@settings(max_examples=200, deadline=None)
@given(st.lists(changes(), max_size=30))
def test_a_zone_changed_record_by_record_answers_as_one_built_anew(
    steps: list[tuple[str, DnsRecord | None]],
) -> None:
    zone = Zone(DOMAIN, [])
    for name, record in steps:
        if record is None:
            zone.delete(name)
        else:
            zone.put(record)
    assert answers(zone) == answers(Zone(DOMAIN, final(steps)))


async def served(server: DnsServer) -> dict[tuple[str, int], str]:
    """Every asked name and type's response through the server, its cache included, the
    SOA's serial left out: a cached negative answer keeps the serial it was made with."""
    found: dict[tuple[str, int], str] = {}
    for name in ASKED:
        for rdtype in TYPES:
            query = dns.message.make_query(name, rdtype, use_edns=False)
            query.id = 1
            wire = await server.respond(query.to_wire(), UDP_PLAIN_LIMIT)
            assert wire is not None
            text = SERIAL.sub("SOA", dns.message.from_wire(wire).to_text())
            # In sorted lines: rendering shuffles the records of a set.
            found[name, rdtype] = "\n".join(sorted(text.splitlines()))
    return found


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(changes(), min_size=1, max_size=4), max_size=8))
def test_the_cache_never_serves_an_answer_a_change_made_stale(
    batches: list[list[tuple[str, DnsRecord | None]]],
) -> None:
    async def check() -> None:
        server = DnsServer(DOMAIN, [])
        server.update([], serial=1)
        await served(server)  # everything cached
        steps: list[tuple[str, DnsRecord | None]] = []
        for serial, batch in enumerate(batches, start=2):
            server.apply(dict(batch), serial)
            steps += batch
            fresh = DnsServer(DOMAIN, [])
            fresh.update(final(steps), serial)
            assert await served(server) == await served(fresh)

    asyncio.run(check())


def test_a_change_keeps_the_cached_answers_it_does_not_touch() -> None:
    async def check() -> None:
        server = DnsServer(DOMAIN, [])
        server.update([DnsRecord(PODS[0], "10.0.0.2"), DnsRecord(PODS[2], "10.0.0.4")], 1)
        for name in (PODS[0], PODS[2]):
            query = dns.message.make_query(name, "A", use_edns=False).to_wire()
            await server.respond(query, UDP_PLAIN_LIMIT)
        server.apply({PODS[0]: None}, 2)
        untouched = dns.message.make_query(PODS[2], "A", use_edns=False).to_wire()
        touched = dns.message.make_query(PODS[0], "A", use_edns=False).to_wire()
        assert server.cached(untouched, UDP_PLAIN_LIMIT) is not None
        assert server.cached(touched, UDP_PLAIN_LIMIT) is None

    asyncio.run(check())
