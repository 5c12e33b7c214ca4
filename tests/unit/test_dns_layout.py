"""Building SkyDNS records and checking aliases: pure."""

from __future__ import annotations

import pytest

from ozymandias.cluster.dns_record import DnsRecord
from ozymandias.dns.skydns_layout import (
    AliasRejected,
    HealthyInstance,
    checked_alias,
    expand_aliases,
    find_cycle,
    node_records,
)
from ozymandias.spec.models import PortMapping
from ozymandias.store import keys

D = "cluster.local"


def test_a_node_publishes_itself_its_healthy_instances_and_their_ports() -> None:
    web0 = HealthyInstance("web", 0, "10.0.0.2", (PortMapping.model_validate("80:3000"),))
    records = node_records(D, "n1", "192.168.1.5", [web0], {})
    assert records == {
        "n1.node.cluster.local": DnsRecord("n1.node.cluster.local", "192.168.1.5"),
        "web-0.pod.cluster.local": DnsRecord("web-0.pod.cluster.local", "10.0.0.2"),
        "web-0.web.job.cluster.local": DnsRecord("web-0.web.job.cluster.local", "10.0.0.2"),
        "web-0._80._tcp.web.job.cluster.local": DnsRecord(
            "web-0._80._tcp.web.job.cluster.local", "web-0.pod.cluster.local", port=3000
        ),
    }


def test_aliases_cover_the_local_records_of_their_targets_once() -> None:
    instances = [HealthyInstance("web", 0, "10.0.0.2"), HealthyInstance("db", 1, "10.0.0.3")]
    aliases = {
        "front.cluster.local": ["web.job.cluster.local", "web-0.pod.cluster.local"],
        "all.cluster.local": [
            "front.cluster.local",
            "db.job.cluster.local",
            "n1.node.cluster.local",
        ],
    }
    records = node_records(D, "n1", "192.168.1.5", instances, aliases)
    under = {name: r.host for name, r in records.items() if name.endswith("front.cluster.local")}
    assert under == {"web-0.pod.front.cluster.local": "10.0.0.2"}
    under_all = {r.host for name, r in records.items() if name.endswith(".all.cluster.local")}
    assert under_all == {"10.0.0.2", "10.0.0.3", "192.168.1.5"}


def test_skydns_keys_reverse_the_labels() -> None:
    assert keys.skydns("web-0.pod.cluster.local") == b"/skydns/local/cluster/pod/web-0"
    assert keys.skydns_name(b"/skydns/local/cluster/pod/web-0") == "web-0.pod.cluster.local"
    record = DnsRecord("x.cluster.local", "10.0.0.1", port=80, ttl=5)
    assert DnsRecord.from_json("x.cluster.local", record.to_json()) == record
    with pytest.raises(ValueError, match="SkyDNS"):
        DnsRecord.from_json("x", b'{"port": 1}')


def test_cycles_are_found_and_expansion_survives_them() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"]}) is None
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert expand_aliases({"a": ["b", "x"], "b": ["a", "y"]}) == {"a": {"x", "y"}, "b": {"x", "y"}}


@pytest.mark.parametrize(
    ("name", "targets", "kind"),
    [
        pytest.param("loop2", ["loop1"], "dns-alias-cycle", id="closes a cycle"),
        pytest.param("self", ["self"], "dns-alias-cycle", id="targets itself"),
        pytest.param("x.job", ["web.job"], "reserved-dns-name", id="in the job namespace"),
        pytest.param("a.b.pod.cluster.local", ["web.job"], "reserved-dns-name", id="under pod"),
        pytest.param("node", ["web.job"], "reserved-dns-name", id="a namespace itself"),
        pytest.param("bad_name", ["web.job"], "invalid-dns-alias", id="bad label"),
        pytest.param("cluster.local", ["web.job"], "invalid-dns-alias", id="the domain itself"),
        pytest.param("ok", [], "invalid-dns-alias", id="no targets"),
    ],
)
def test_bad_aliases_are_rejected(name: str, targets: list[str], kind: str) -> None:
    with pytest.raises(AliasRejected) as rejected:
        checked_alias(name, targets, {"loop1.cluster.local": ["loop2.cluster.local"]}, D)
    assert rejected.value.kind == kind


def test_good_aliases_are_qualified_and_sorted() -> None:
    assert checked_alias("Front.", ["web.job", "db.job.cluster.local", "web.job"], {}, D) == (
        "front.cluster.local",
        ["db.job.cluster.local", "web.job.cluster.local"],
    )
