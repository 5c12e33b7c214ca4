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
from collections import defaultdict
from collections.abc import Iterable

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


class Zone:
    """An immutable index of the cluster domain's records, built once per change."""

    def __init__(self, domain: str, records: Iterable[DnsRecord], serial: int = 1) -> None:
        self.domain = domain
        self.origin = dns.name.from_text(domain)
        self._a: dict[str, dict[str, int]] = defaultdict(dict)  # name -> host -> ttl
        self._srv: dict[str, list[DnsRecord]] = defaultdict(list)
        self._exists: set[str] = {domain}
        depth = len(domain.split("."))
        for record in records:
            labels = record.name.split(".")
            is_ipv4 = _is_ipv4(record.host)
            for start in range(len(labels) - depth + 1):
                name = ".".join(labels[start:])
                self._exists.add(name)
                if record.port is not None:
                    self._srv[name].append(record)
                elif is_ipv4 and not any(label.startswith("_") for label in labels[:start]):
                    hosts = self._a[name]
                    hosts[record.host] = min(hosts.get(record.host, record.ttl), record.ttl)
        self._soa = dns.rrset.from_rdata(
            self.origin,
            SOA_TTL,
            dns.rdata.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.SOA,
                f"ns.dns.{domain}. hostmaster.{domain}. {serial % 2**32} "
                f"{SOA_TTL} {SOA_TTL} 3600 {SOA_TTL}",
            ),
        )

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
            if name not in self._exists:
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa)
        return response

    def _a_rrset(self, owner: dns.name.Name, name: str) -> dns.rrset.RRset | None:
        hosts = self._a.get(name)
        if not hosts:
            return None
        return dns.rrset.from_text_list(
            owner, min(hosts.values()), dns.rdataclass.IN, dns.rdatatype.A, sorted(hosts)
        )

    def _add_srv(self, response: dns.message.Message, owner: dns.name.Name, name: str) -> bool:
        records = self._srv.get(name)
        if not records:
            return False
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


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
