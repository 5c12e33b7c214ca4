"""The cluster's DNS records, built from what a node runs: pure.

Records use the layout of CoreDNS's etcd plugin (SkyDNS): each record is a
DNS name holding a value like {"host": "10.88.0.5", "ttl": 5}, and a query
for a name is answered from the records at that name and below it. So a job
has one record per healthy instance, one label below the job's name:

    web-0.web.job.cluster.local      A    the pod IP of web-0 (so web.job... has them all)
    web-0.pod.cluster.local          A    the pod IP of web-0, while it is healthy
    n1.node.cluster.local            A    the node's address
    web-0._80._tcp.web.job.cluster.local   SRV  web-0.pod.cluster.local, port 3000
    web-0.pod.frontend.cluster.local A    alias `frontend` over a target that includes web-0

A job's ports are named by their cluster port: `80:3000` answers SRV queries
for _80._tcp.web.job.cluster.local with each healthy pod and port 3000, the
port that is reachable on the pod's IP. Labels starting with "_" hold SRV
records only, so they never add to the A answers of the names above them.

An alias is a name in the cluster domain over target names (jobs, pods,
nodes or other aliases). Every node writes, under the alias, the records of
its own healthy instances that a target covers, so an alias resolves to the
union of its healthy targets, and a dead node's share vanishes with its lease.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.cluster.records import instance_name
from ozymandias.spec.models import PortMapping

DEFAULT_DOMAIN = "cluster.local"
RESERVED_NAMESPACES = ("job", "pod", "node")


@dataclass(frozen=True)
class HealthyInstance:
    """An instance this node runs that passes its healthchecks."""

    job: str
    index: int
    ip: str
    ports: tuple[PortMapping, ...] = ()

    @property
    def name(self) -> str:
        return instance_name(self.job, self.index)


def job_name(job: str, domain: str) -> str:
    return f"{job}.job.{domain}"


def pod_name(instance: str, domain: str) -> str:
    return f"{instance}.pod.{domain}"


def node_name(node: str, domain: str) -> str:
    return f"{node}.node.{domain}"


def node_records(
    domain: str,
    node: str,
    address: str,
    instances: Iterable[HealthyInstance],
    aliases: Mapping[str, Sequence[str]],
) -> dict[str, DnsRecord]:
    """Every record one node publishes, by name: its own, its healthy instances' and
    their share of each alias."""
    own = node_name(node, domain)
    records = {own: DnsRecord(own, address)}
    # Which records each job, pod and node name covers, for the aliases.
    covered: dict[str, list[DnsRecord]] = {own: [records[own]]}
    for instance in instances:
        pod = pod_name(instance.name, domain)
        job = job_name(instance.job, domain)
        at_pod = DnsRecord(pod, instance.ip)
        at_job = DnsRecord(f"{instance.name}.{job}", instance.ip)
        records[pod] = at_pod
        records[at_job.name] = at_job
        covered[pod] = [at_pod]
        covered.setdefault(job, []).append(at_pod)
        for port in instance.ports:
            srv = f"{instance.name}._{port.cluster_port}._{port.protocol}.{job}"
            records[srv] = DnsRecord(srv, pod, port=port.container_port)
    for alias, targets in expand_aliases(aliases).items():
        for target in sorted(targets):
            for record in covered.get(target, []):
                # The record's own name, relative to the domain, keeps entries from
                # different targets apart (web-0.pod.<alias>, n1.node.<alias>).
                entry = f"{record.name.removesuffix('.' + domain)}.{alias}"
                records[entry] = DnsRecord(entry, record.host)
    return records


def expand_aliases(aliases: Mapping[str, Sequence[str]]) -> dict[str, set[str]]:
    """Each alias's targets with every alias among them replaced by its own, recursively.

    A cycle (which the API refuses) just stops the expansion where it closes.
    """

    def expand(name: str, seen: frozenset[str]) -> set[str]:
        found: set[str] = set()
        for target in aliases.get(name, ()):
            if target in aliases:
                if target not in seen:
                    found |= expand(target, seen | {target})
            else:
                found.add(target)
        return found

    return {name: expand(name, frozenset({name})) for name in aliases}


def find_cycle(aliases: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A chain of aliases that leads back to its start, e.g. [a, b, a]; None if none does."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done or name not in aliases:
            return None
        for target in aliases[name]:
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    for name in sorted(aliases):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def qualify(name: str, domain: str) -> str:
    """A name as written by a user (`db.job`, `Frontend.`) as a full lower-case name."""
    name = name.strip().rstrip(".").lower()
    return name if name == domain or name.endswith("." + domain) else f"{name}.{domain}"


def reserved_namespace(name: str, domain: str) -> str | None:
    """The reserved namespace (job, pod, node) a full name is in, if any."""
    relative = name.removesuffix(domain).rstrip(".")
    namespace = relative.rsplit(".", 1)[-1]
    return namespace if namespace in RESERVED_NAMESPACES else None


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class AliasRejected(ValueError):
    """An alias that must not be stored; `kind` names the problem (docs/errors.md)."""

    def __init__(self, kind: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.title = title
        self.detail = detail


def checked_alias(
    name: str, targets: Sequence[str], others: Mapping[str, Sequence[str]], domain: str
) -> tuple[str, list[str]]:
    """The alias's full name and targets, if it may be stored beside the `others`.

    Raises AliasRejected for a malformed name or target, a name in a reserved
    namespace (job, pod, node), or an alias that would close a cycle.
    """
    full = qualify(name, domain)
    full_targets = sorted({qualify(target, domain) for target in targets})
    for label_of, value in [("name", full), *(("target", target) for target in full_targets)]:
        relative = value.removesuffix(domain).rstrip(".")
        if not relative or not all(_LABEL.fullmatch(label) for label in relative.split(".")):
            raise AliasRejected(
                "invalid-dns-alias",
                "Invalid DNS alias",
                f"{label_of} {value!r} is not a DNS name in {domain} "
                "(labels of a-z, 0-9 and '-', at most 63 characters)",
            )
    if not full_targets:
        raise AliasRejected("invalid-dns-alias", "Invalid DNS alias", "an alias needs targets")
    namespace = reserved_namespace(full, domain)
    if namespace is not None:
        raise AliasRejected(
            "reserved-dns-name",
            "Reserved DNS name",
            f"{full} is inside {namespace}.{domain}, which names {namespace}s; "
            "pick a name outside job, pod and node",
        )
    cycle = find_cycle({**others, full: full_targets})
    if cycle is not None:
        raise AliasRejected(
            "dns-alias-cycle",
            "DNS alias cycle",
            f"{full} would close a cycle of aliases: {' -> '.join(cycle)}",
        )
    return full, full_targets
