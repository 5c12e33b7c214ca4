"""Answers for the cluster domain, computed from a set of SkyDNS records: pure.

A name's A answers are the IPv4 hosts of the records at or below it, except
those below a label starting with "_", which hold SRV records only (see
`dns.records`). Its SRV answers are the records at or below it that have a
port. A name with no record at or below it does not exist (NXDOMAIN); one
that exists without records of the asked type has no data (NODATA). Both
carry the zone's SOA, whose minimum TTL tells resolvers how long to cache
the negative answer.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from typing import TypeVar

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ozymandias.cluster.dns_record import DnsRecord

# Short, because records change as instances come and go: the TTL of the
# SOA, and the negative-caching TTL it announces.
SOA_TTL = 5

_K = TypeVar("_K", bound=Hashable)


class Zone:
    """An index of the cluster domain's records, changed one record at a time.

    A change touches the names at and above its record only, so following a
    cluster of 100,000 instances costs a few dictionary updates per change,
    not a rebuild of every name. Each record is remembered by its name (one
    record per name, as SkyDNS keys them), so a change can take back what the
    old record added.
    """

    def __init__(self, domain: str, records: Iterable[DnsRecord], serial: int = 1) -> None:
        self.domain = domain
        self.origin = dns.name.from_text(domain)
        self._depth = len(domain.split("."))
        self._records: dict[str, DnsRecord] = {}
        # name -> (host, ttl) -> how many records at or below the name give it
        self._a: dict[str, Counter[tuple[str, int]]] = defaultdict(Counter)
        self._srv: dict[str, dict[str, DnsRecord]] = defaultdict(dict)  # name -> record name ->
        # name -> records at or below it that give it neither an A nor an SRV answer
        # (a name exists if any record is at or below it: these, or those in _a or _srv)
        self._other: Counter[str] = Counter()
        for record in records:
            self.put(record)
        self.set_serial(serial)

    def set_serial(self, serial: int) -> None:
        self._soa = dns.rrset.from_rdata(
            self.origin,
            SOA_TTL,
            dns.rdata.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.SOA,
                f"ns.dns.{self.domain}. hostmaster.{self.domain}. {serial % 2**32} "
                f"{SOA_TTL} {SOA_TTL} 3600 {SOA_TTL}",
            ),
        )

    def affected(self, name: str) -> list[str]:
        """The names whose answers a record at `name` is part of: it and those above it."""
        labels = name.split(".")
        return [".".join(labels[start:]) for start in range(len(labels) - self._depth + 1)]

    def put(self, record: DnsRecord) -> None:
        """Serve `record`, in place of the one at its name if any."""
        self.delete(record.name)
        self._records[record.name] = record
        self._count(record, 1)

    def delete(self, name: str) -> None:
        """Serve no record at `name` any more (nothing if there is none)."""
        record = self._records.pop(name, None)
        if record is not None:
            self._count(record, -1)

    def depends_on(self, name: str, rdtype: int) -> set[str]:
        """The names whose records make the answer to `name` and `rdtype`: besides the
        name's own, an SRV answer's targets, whose addresses go in its additional section."""
        names = {name}
        if rdtype == dns.rdatatype.SRV:
            names.update(record.host for record in self._srv.get(name, {}).values())
        return names

    def _count(self, record: DnsRecord, step: int) -> None:
        labels = record.name.split(".")
        is_ipv4 = _is_ipv4(record.host)
        address = (record.host, record.ttl)  # one tuple, shared by every name above
        for start, name in enumerate(self.affected(record.name)):
            if record.port is not None:
                if step > 0:
                    self._srv[name][record.name] = record
                else:
                    _discard(self._srv, name, record.name)
            elif is_ipv4 and not any(label.startswith("_") for label in labels[:start]):
                hosts = self._a[name]
                _add(hosts, address, step)
                if not hosts:
                    del self._a[name]
            else:
                _add(self._other, name, step)

    def covers(self, name: dns.name.Name) -> bool:
        return name.is_subdomain(self.origin)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """The authoritative response to a query for a name in the domain."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        found = False
        if question.rdclass == dns.rdataclass.IN:
            if question.rdtype == dns.rdatatype.A:
                rrset = self._a_rrset(question.name, name)
                if rrset is not None:
                    response.answer.append(rrset)
                    found = True
            elif question.rdtype == dns.rdatatype.SRV:
                found = self._add_srv(response, question.name, name)
            elif question.rdtype == dns.rdatatype.SOA and name == self.domain:
                response.answer.append(self._soa)
                found = True
        if not found:
            if not self._exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa)
        return response

    def _exists(self, name: str) -> bool:
        return name == self.domain or name in self._a or name in self._srv or name in self._other

    def _a_rrset(self, owner: dns.name.Name, name: str) -> dns.rrset.RRset | None:
        hosts = self._a.get(name)
        if not hosts:
            return None
        ttl = min(ttl for _, ttl in hosts)
        addresses = sorted({host for host, _ in hosts})
        return dns.rrset.from_text_list(owner, ttl, dns.rdataclass.IN, dns.rdatatype.A, addresses)

    def _add_srv(self, response: dns.message.Message, owner: dns.name.Name, name: str) -> bool:
        found = self._srv.get(name)
        if not found:
            return False
        records = list(found.values())
        targets = sorted({(record.host, record.port or 0) for record in records})
        response.answer.append(
            dns.rrset.from_text_list(
                owner,
                min(record.ttl for record in records),
                dns.rdataclass.IN,
                dns.rdatatype.SRV,
                [f"10 10 {port} {host}." for host, port in targets],
            )
        )
        # Saves the client a query per target: their addresses, where known.
        for host in sorted({host for host, _ in targets}):
            rrset = self._a_rrset(dns.name.from_text(host), host)
            if rrset is not None:
                response.additional.append(rrset)
        return True


def _add(counts: Counter[_K], key: _K, step: int) -> None:
    """Add `step` to a count, dropping it at zero: a name no record reaches takes no room."""
    left = counts[key] + step
    if left > 0:
        counts[key] = left
    else:
        del counts[key]


def _discard(srv: dict[str, dict[str, DnsRecord]], name: str, record: str) -> None:
    records = srv[name]
    del records[record]
    if not records:
        del srv[name]


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
