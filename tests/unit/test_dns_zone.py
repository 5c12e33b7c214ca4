"""The zone changed record by record answers as one built from scratch, and the server's
answer cache never serves an answer a change has made stale."""

from __future__ import annotations

import asyncio
import re

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
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
# Names beyond the instances' own: a record at a name others are below, an alias's
# entry, an address under a "_" label (SRV-only there), one at the domain itself.
ODD = [
    "web.job.cluster.local",
    "web-0.pod.frontend.cluster.local",
    "x._tcp.web.job.cluster.local",
    "cluster.local",
]
ASKED = sorted(
    {name for record in PODS + AT_JOB + SRV + ODD for name in Zone(DOMAIN, []).affected(record)}
    | {"nope.job.cluster.local", "_80._tcp.web.job.cluster.local"}
)
SERIAL = re.compile(r"SOA .*")
TYPES = [dns.rdatatype.A, dns.rdatatype.SRV, dns.rdatatype.AAAA, dns.rdatatype.SOA]


@st.composite
def changes(draw: st.DrawFn) -> tuple[str, DnsRecord | None]:
    """One name's new record, or None for its deletion."""
    name = draw(st.sampled_from(PODS + AT_JOB + SRV + ODD))
    if draw(st.booleans()):
        return name, None
    ttl = draw(st.sampled_from([30, 60]))
    if name in SRV or (name in ODD and draw(st.booleans())):
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


@st.composite
def record_sets(draw: st.DrawFn) -> dict[str, DnsRecord]:
    """At most one record per name, as SkyDNS keys them."""
    records: dict[str, DnsRecord] = {}
    for name in draw(st.sets(st.sampled_from(PODS + AT_JOB + SRV + ODD))):
        ttl = draw(st.sampled_from([30, 60]))
        port = draw(st.sampled_from([None, 3000, 3001])) if name not in SRV else 3000
        host = draw(st.sampled_from([*ADDRESSES, *PODS, "elsewhere.example"]))
        records[name] = DnsRecord(name, host, port, ttl)
    return records


def reference(records: dict[str, DnsRecord], query: dns.message.Message) -> str:
    """The answer the zone's docstring describes, found by reading every record, as text
    (in order: the wire form shuffles each set's records)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    name = question.name.to_text(omit_final_dot=True).lower()
    soa = Zone(DOMAIN, []).answer(dns.message.make_query(DOMAIN, "SOA")).answer[0]

    def at_or_below(owner: str) -> list[DnsRecord]:
        return [r for r in records.values() if r.name == owner or r.name.endswith("." + owner)]

    def a_rrset(owner: str) -> dns.rrset.RRset | None:
        found = [
            r
            for r in at_or_below(owner)
            if r.port is None
            and re.fullmatch(r"[\d.]+", r.host)
            and not any(label.startswith("_") for label in r.name[: -len(owner)].split("."))
        ]
        if not found:
            return None
        hosts = sorted({r.host for r in found})
        ttl = min(r.ttl for r in found)
        return dns.rrset.from_text_list(owner + ".", ttl, "IN", "A", hosts)

    if question.rdtype == dns.rdatatype.A and (rrset := a_rrset(name)) is not None:
        response.answer.append(rrset)
    elif question.rdtype == dns.rdatatype.SRV and (
        srv := [r for r in at_or_below(name) if r.port is not None]
    ):
        targets = sorted({(r.host, r.port) for r in srv})
        texts = [f"10 10 {port} {host}." for host, port in targets]
        ttl = min(r.ttl for r in srv)
        response.answer.append(dns.rrset.from_text_list(name + ".", ttl, "IN", "SRV", texts))
        for host in sorted({host for host, _ in targets}):
            if (extra := a_rrset(host)) is not None:
                response.additional.append(extra)
    elif question.rdtype == dns.rdatatype.SOA and name == DOMAIN:
        response.answer.append(soa)
    else:
        if name != DOMAIN and not at_or_below(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(soa)
    return response.to_text()


@settings(max_examples=300, deadline=None)
@given(record_sets())
def test_every_answer_is_the_one_read_from_all_records(
    records: dict[str, DnsRecord],
) -> None:
    zone = Zone(DOMAIN, records.values())
    for name in ASKED:
        for rdtype in TYPES:
            query = dns.message.make_query(name, rdtype)
            query.id = 1
            assert zone.answer(query).to_text() == reference(records, query), (name, rdtype)
