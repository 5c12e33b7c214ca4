"""DNS and ingress metrics on a real node: queries and requests through it move its /metrics."""

from __future__ import annotations

import re
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import httpx

from tests.support.jobs import web_job
from tests.support.metrics import scrape, value
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"
JOB = "metered"


def documented(sections: tuple[str, ...]) -> set[str]:
    """The metric names of these sections of docs/metrics.md."""
    names: set[str] = set()
    current = ""
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif current in sections and (match := re.match(r"^\| `(ozy_[a-z0-9_]+)` \|", line)):
            names.add(match.group(1))
    return names


def answer(node: NodeProcess, name: str) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    return dns.query.udp(query, "127.0.0.1", port=node.dns_port, timeout=5)


def ask(node: NodeProcess, name: str) -> int:
    return answer(node, name).rcode()


def addresses(node: NodeProcess, name: str) -> int:
    return sum(len(rrset) for rrset in answer(node, name).answer)


def servers_up(node: NodeProcess) -> float:
    return value(scrape(node)[1], "ozy_ingress_servers", job=JOB, state="up")


def ok_requests(node: NodeProcess) -> float:
    samples = scrape(node)[1]
    return value(samples, "ozy_ingress_http_requests_total", job=JOB, code="2xx")


def test_dns_queries_and_ingress_requests_move_the_metrics(make_node: NodeFactory) -> None:
    node = make_node("edge-metrics")
    # The API answers before HAProxy is up; until then the ingress says only that.
    wait_until(lambda: value(scrape(node)[1], "ozy_ingress_up") == 1, what="HAProxy read")
    families = scrape(node)[0]
    assert documented(("DNS", "Ingress")) <= families

    assert node.apply(web_job(JOB, 2, ports=["80:3000"], healthcheck=True)).status_code == 201
    node.wait_running(JOB, 2)
    wait_until(lambda: servers_up(node) == 2, what="both instances up in HAProxy")

    before = scrape(node)[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{node.ingress_port}") as client:
        for _ in range(3):
            reply = client.get("/", headers={"host": f"{JOB}.localhost"})
            assert reply.status_code == 200, reply.text
    wanted = value(before, "ozy_ingress_http_requests_total", job=JOB, code="2xx") + 3
    wait_until(lambda: ok_requests(node) == wanted, what="3 more 2xx requests counted")

    name = f"{JOB}.job.cluster.local"
    # Both in: the zone, and with it the cache, changes no more.
    wait_until(lambda: addresses(node, name) == 2, what=f"both instances in {name}")
    before = scrape(node)[1]
    assert ask(node, name) == dns.rcode.NOERROR
    assert ask(node, name) == dns.rcode.NOERROR  # the same question again: from the cache
    assert ask(node, f"nothing.{name}") == dns.rcode.NXDOMAIN
    after = scrape(node)[1]

    def grew(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    # At least: the node's pods may ask the node's DNS too, on the bridge's address.
    assert grew("ozy_dns_queries_total", qtype="A", rcode="NOERROR") >= 2
    assert grew("ozy_dns_queries_total", qtype="A", rcode="NXDOMAIN") >= 1
    assert grew("ozy_dns_cache_hits_total") >= 2  # both asked before
    assert grew("ozy_dns_cache_misses_total") >= 1  # the new name
