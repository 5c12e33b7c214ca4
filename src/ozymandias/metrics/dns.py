"""The DNS server's metrics: queries by type and answer code, and the answer cache.

Counted by `dns/server.py`, one call per query. The cache's hit ratio is
`rate(ozy_dns_cache_hits_total[5m]) / (rate(ozy_dns_cache_hits_total[5m]) +
rate(ozy_dns_cache_misses_total[5m]))`: every query looks in the cache first,
so hits and misses together count every query received.
"""

from __future__ import annotations

import dns.rcode
import dns.rdatatype
from prometheus_client import Counter

QUERIES = Counter(
    "ozy_dns_queries",
    "DNS queries answered by the node, by query type and response code.",
    ["qtype", "rcode"],
)
CACHE_HITS = Counter("ozy_dns_cache_hits", "DNS queries answered from the answer cache.")
CACHE_MISSES = Counter(
    "ozy_dns_cache_misses",
    "DNS queries not found in the answer cache (answered from the zone, forwarded, or refused).",
)

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


def query_counter(rdtype: int | None, answer: bytes) -> Counter:
    """The query counter's child for a query of `rdtype` answered with `answer`."""
    return QUERIES.labels(qtype_label(rdtype), rcode_label(answer))
