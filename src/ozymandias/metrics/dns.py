"""The DNS server's metrics: queries by type and answer code, and the answer cache.

The server tallies in plain integers (`DnsTally`), one line per query, and a
collector reads the tally at scrape time. prometheus_client's counters take
a lock per increment: two of them made an answer from the cache cost 1.0 to
1.2 µs instead of 0.3 µs (measured in process); the tally adds about 0.03 µs.
A cached answer keeps its query's tally cell beside it, so counting a hit
costs no label lookup.

The cache's hit ratio is `rate(ozy_dns_cache_hits_total[5m]) /
(rate(ozy_dns_cache_hits_total[5m]) + rate(ozy_dns_cache_misses_total[5m]))`:
every query looks in the cache first, so hits and misses together count
every query received. The tally lives as long as its server, one term of
membership; a new term starts it at zero, which Prometheus reads as a
counter reset.
"""

from __future__ import annotations

import dns.rcode
import dns.rdatatype
from prometheus_client.metrics_core import Metric

from ozymandias.metrics.families import Family, described

QUERIES = Family(
    "ozy_dns_queries_total",
    "DNS queries answered by the node, by query type and response code.",
    ("qtype", "rcode"),
    "counter",
)
CACHE_HITS = Family(
    "ozy_dns_cache_hits_total", "DNS queries answered from the answer cache.", type="counter"
)
CACHE_MISSES = Family(
    "ozy_dns_cache_misses_total",
    "DNS queries not found in the answer cache (answered from the zone, forwarded, or refused).",
    type="counter",
)
_FAMILIES = (QUERIES, CACHE_HITS, CACHE_MISSES)

# Any client may ask for any of 65,536 types: the rest share one label value,
# so a scanner cannot grow the number of series without bound.
_NAMED_TYPES = frozenset(
    dns.rdatatype.to_text(rdtype)
    for rdtype in (
        dns.rdatatype.A,
        dns.rdatatype.AAAA,
        dns.rdatatype.SRV,
        dns.rdatatype.PTR,
        dns.rdatatype.TXT,
        dns.rdatatype.CNAME,
        dns.rdatatype.NS,
        dns.rdatatype.SOA,
        dns.rdatatype.MX,
        dns.rdatatype.ANY,
        dns.rdatatype.HTTPS,
        dns.rdatatype.SVCB,
        dns.rdatatype.CAA,
    )
)
OTHER_TYPE = "other"
UNPARSED_TYPE = "none"  # a query too malformed to read its type (answered FORMERR)


def qtype_label(rdtype: int | None) -> str:
    """The `qtype` label of a query of type `rdtype` (None: unreadable)."""
    if rdtype is None:
        return UNPARSED_TYPE
    text = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))
    return text if text in _NAMED_TYPES else OTHER_TYPE


def rcode_label(answer: bytes) -> str:
    """The `rcode` label of an answer in wire format: its header's 4-bit code, by name."""
    return dns.rcode.to_text(dns.rcode.Rcode.make(answer[3] & 0x0F))


# One count, as a one-element list, so whoever holds it adds to it without a lookup.
Cell = list[int]


class DnsTally:
    """One DNS server's counts: queries by (qtype, rcode), cache hits and misses."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._queries: dict[tuple[str, str], Cell] = {}

    def cell(self, rdtype: int | None, answer: bytes) -> Cell:
        """The count of queries of `rdtype` answered like `answer` (at most 14 × 16 of them)."""
        return self._queries.setdefault((qtype_label(rdtype), rcode_label(answer)), [0])

    def count(self, rdtype: int | None, answer: bytes) -> None:
        self.cell(rdtype, answer)[0] += 1

    def queries(self) -> dict[tuple[str, str], int]:
        return {labels: cell[0] for labels, cell in self._queries.items()}


class DnsCollector:
    """Reports a DNS server's tally when scraped (registered while the server runs)."""

    def __init__(self, tally: DnsTally) -> None:
        self._tally = tally

    def describe(self) -> list[Metric]:
        return described(_FAMILIES)

    def collect(self) -> list[Metric]:
        queries, hits, misses = (family.empty() for family in _FAMILIES)
        for (qtype, rcode), count in sorted(self._tally.queries().items()):
            queries.add_metric([qtype, rcode], count)
        hits.add_metric([], self._tally.hits)
        misses.add_metric([], self._tally.misses)
        return [queries, hits, misses]
