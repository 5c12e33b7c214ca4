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
from collections import Counter
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

    A change touches the names above its record only, so following a cluster
    of 100,000 instances costs a few dictionary updates per change, not a
    rebuild of every name. Each record is kept once, by its name (one record
    per name, as SkyDNS keys them): it answers for its own name from there,
    and the names above it keep counts of what the records below them give,
    so a change can take back what the old record added. Most names are
    leaves (an instance's pod or job entry) and cost no more than their
    record; the answers' rrsets are built only when asked (and then cached
    by the server).
    """

    def __init__(self, domain: str, records: Iterable[DnsRecord], serial: int = 1) -> None:
        self.domain = domain
        self.origin = dns.name.from_text(domain)
        self._depth = len(domain.split("."))
        self._records: dict[str, DnsRecord] = {}
        # name -> (host, ttl) -> how many records strictly below the name give it
        self._a_below: dict[str, Counter[tuple[str, int]]] = {}
        # name -> (host, port, ttl) -> how many records strictly below the name give it
        self._srv_below: dict[str, Counter[tuple[str, int, int]]] = {}
        # name -> how many records are strictly below it (a name exists if one is at
        # or below it, whatever they answer)
        self._below: Counter[str] = Counter()
        for record in records:
            self.put(record)
        self.set_serial(serial)

    def set_serial(self, serial: int) -> None:
        # The SOA is built when an answer first needs it: parsing one took nine tenths
        # of a health flip's zone update, and most serials are never asked for.
        self._serial = serial % 2**32
        self._soa_built: dns.rrset.RRset | None = None

    def _soa(self) -> dns.rrset.RRset:
        if self._soa_built is None:
            self._soa_built = dns.rrset.from_rdata(
                self.origin,
                SOA_TTL,
                dns.rdata.from_text(
                    dns.rdataclass.IN,
                    dns.rdatatype.SOA,
                    f"ns.dns.{self.domain}. hostmaster.{self.domain}. {self._serial} "
                    f"{SOA_TTL} {SOA_TTL} 3600 {SOA_TTL}",
                ),
            )
        return self._soa_built

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
            names.update(host for host, _ in self._srv_targets(name)[1])
        return names

    def _count(self, record: DnsRecord, step: int) -> None:
        """Add (or take back) what `record` gives the names strictly above it."""
        labels = record.name.split(".")
        is_ipv4 = record.port is None and _is_ipv4(record.host)
        address = (record.host, record.ttl)  # one tuple, shared by every name above
        target = (record.host, record.port or 0, record.ttl)
        for start in range(1, len(labels) - self._depth + 1):
            name = ".".join(labels[start:])
            _add(self._below, name, step)
            if record.port is not None:
                _add_at(self._srv_below, name, target, step)
            elif is_ipv4 and not any(label.startswith("_") for label in labels[:start]):
                _add_at(self._a_below, name, address, step)

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
                response.answer.append(self._soa())
                found = True
        if not found:
            if not self._exists(name):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
        return response

    def _exists(self, name: str) -> bool:
        return name == self.domain or name in self._records or name in self._below

    def _a_rrset(self, owner: dns.name.Name, name: str) -> dns.rrset.RRset | None:
        hosts: set[tuple[str, int]] = set(self._a_below.get(name, ()))
        own = self._records.get(name)
        if own is not None and own.port is None and _is_ipv4(own.host):
            hosts.add((own.host, own.ttl))
        if not hosts:
            return None
        ttl = min(ttl for _, ttl in hosts)
        addresses = sorted({host for host, _ in hosts})
        return dns.rrset.from_text_list(owner, ttl, dns.rdataclass.IN, dns.rdatatype.A, addresses)

    def _srv_targets(self, name: str) -> tuple[int, list[tuple[str, int]]]:
        """The SRV answer's TTL and its (host, port) targets, in order; none: no answer."""
        targets: set[tuple[str, int, int]] = set(self._srv_below.get(name, ()))
        own = self._records.get(name)
        if own is not None and own.port is not None:
            targets.add((own.host, own.port, own.ttl))
        if not targets:
            return 0, []
        ttl = min(ttl for _, _, ttl in targets)
        return ttl, sorted({(host, port) for host, port, _ in targets})

    def _add_srv(self, response: dns.message.Message, owner: dns.name.Name, name: str) -> bool:
        ttl, targets = self._srv_targets(name)
        if not targets:
            return False
        response.answer.append(
            dns.rrset.from_text_list(
                owner,
                ttl,
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


def _add_at(index: dict[str, Counter[_K]], name: str, key: _K, step: int) -> None:
    """`_add` to a name's counts, dropping the name when nothing is left."""
    counts = index.get(name)
    if counts is None:
        counts = index[name] = Counter()
    _add(counts, key, step)
    if not counts:
        del index[name]


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
