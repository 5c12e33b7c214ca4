"""Healthchecks gate DNS: real nodes, real pods, and dig against the nodes' DNS servers."""

from __future__ import annotations

import time
from typing import Any

from tests.support.jobs import pinned_to, web_job
from tests.support.machine import run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container
from tests.support.waiting import wait_until

# The app clears its failure flag when it starts, so a restart cures it.
HTTP_JOB = """
name: hweb
numInstances: 3
containers:
  app:
    image: localhost/ozy-example-web:latest
    command: ["sh", "-c", "rm -f /tmp/unhealthy; exec /srv/entrypoint.sh"]
    memory: 32M
    ports: ["80:3000"]
    healthcheck:
      type: http
      port: 3000
      path: /healthcheck
      interval: 1
      timeout: 1
      healthy_threshold: 1
      unhealthy_threshold: 2
      start_period: 2
"""

TCP_AND_EXEC_JOB = """
name: checked
containers:
  db:
    image: localhost/ozy-example-db:latest
    memory: 32M
    healthcheck: {type: tcp, port: 5432, interval: 1, timeout: 1, unhealthy_threshold: 2}
  tools:
    image: localhost/ozy-example-tools:latest
    restart: never
    memory: 16M
    healthcheck:
      type: exec
      command: ["sh", "-c", "test ! -e /tmp/broken"]
      interval: 1
      timeout: 1
      unhealthy_threshold: 2
"""


def dig(node: NodeProcess, name: str, rdtype: str = "A", *options: str) -> str:
    return run(
        "dig", "@127.0.0.1", "-p", str(node.dns_port), "+tries=1", "+time=2", *options,
        name, rdtype,
    ).stdout  # fmt: skip


def addresses(node: NodeProcess, name: str) -> set[str]:
    return set(dig(node, name, "A", "+short").split())


def instance(node: NodeProcess, job: str, index: int) -> dict[str, Any]:
    return next(item for item in node.instances(job) if item["index"] == index)


def test_http_healthcheck_gates_dns_and_restarts_the_unhealthy(make_node: NodeFactory) -> None:
    node = make_node("dns-http")
    assert node.apply(HTTP_JOB).status_code == 201
    ips = {item["podIP"] for item in node.wait_running("hweb", 3)}
    wait_until(lambda: addresses(node, "hweb.job.cluster.local") == ips, what="3 IPs in DNS")
    assert {item["health"] for item in node.instances("hweb")} == {"healthy"}

    target = instance(node, "hweb", 1)
    assert addresses(node, "hweb-1.pod.cluster.local") == {target["podIP"]}
    srv = dig(node, "_80._tcp.hweb.job.cluster.local", "SRV", "+short").splitlines()
    assert sorted(srv) == [f"10 10 3000 hweb-{i}.pod.cluster.local." for i in range(3)]
    assert addresses(node, "dns-http.node.cluster.local")

    run("podman", "exec", app_container("hweb", 1), "touch", "/tmp/unhealthy")
    failed_at = time.monotonic()
    wait_until(
        lambda: target["podIP"] not in addresses(node, "hweb.job.cluster.local"),
        timeout=10,
        interval=0.1,
        what="the unhealthy instance to leave DNS",
    )
    # interval x unhealthy_threshold + one interval, plus a little for dig and etcd.
    assert time.monotonic() - failed_at < 1 * 2 + 1 + 1.5
    assert addresses(node, "hweb-1.pod.cluster.local") == set()

    wait_until(lambda: instance(node, "hweb", 1)["restarts"] >= 1, what="a restart")
    wait_until(lambda: addresses(node, "hweb.job.cluster.local") == ips, what="hweb-1 back in DNS")
    assert instance(node, "hweb", 1)["health"] == "healthy"
    events = node.request("GET", "/v1/events", params={"job": "hweb"}).json()
    unhealthy = [event for event in events if event["kind"] == "container-unhealthy"]
    assert unhealthy and "HTTP 500" in unhealthy[0]["message"]
    assert "restarting it" in unhealthy[0]["message"]


def test_tcp_and_exec_checks(make_node: NodeFactory) -> None:
    node = make_node("dns-checks")
    assert node.apply(TCP_AND_EXEC_JOB).status_code == 201
    ip = node.wait_running("checked", 1)[0]["podIP"]
    wait_until(lambda: instance(node, "checked", 0)["health"] == "healthy", what="healthy")
    wait_until(lambda: addresses(node, "checked.job.cluster.local") == {ip}, what="in DNS")

    tools = app_container("checked", 0, "tools")
    run("podman", "exec", tools, "touch", "/tmp/broken")
    wait_until(lambda: instance(node, "checked", 0)["health"] == "unhealthy", what="unhealthy")
    assert addresses(node, "checked.job.cluster.local") == set()
    # Running but unhealthy: the instance says why.
    assert "left running outside DNS" in instance(node, "checked", 0)["reason"]
    # restart: never leaves it running, out of DNS, until its check passes again.
    assert instance(node, "checked", 0)["restarts"] == 0
    run("podman", "exec", tools, "rm", "/tmp/broken")
    wait_until(lambda: addresses(node, "checked.job.cluster.local") == {ip}, what="back in DNS")


def test_aliases_nxdomain_and_resolving_from_a_container(make_node: NodeFactory) -> None:
    node_a, node_b = make_node("dns-a"), make_node("dns-b")
    assert node_a.apply(web_job("alpha", 2, extra=pinned_to("dns-a"))).status_code == 201
    assert node_a.apply(web_job("beta", 1, extra=pinned_to("dns-b"))).status_code == 201
    alpha = {item["podIP"] for item in node_a.wait_running("alpha", 2)}
    beta = {item["podIP"] for item in node_a.wait_running("beta", 1)}

    response = node_a.request(
        "PUT", "/v1/dns/aliases/both", json={"targets": ["alpha.job", "beta.job.cluster.local"]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "name": "both.cluster.local",
        "targets": ["alpha.job.cluster.local", "beta.job.cluster.local"],
    }
    for node in (node_a, node_b):
        wait_until(
            lambda node=node: addresses(node, "both.cluster.local") == alpha | beta,  # type: ignore[misc]
            what=f"the alias on {node.name}",
        )

    assert node_a.request("PUT", "/v1/dns/aliases/loop1", json={"targets": ["loop2"]}).is_success
    refused = node_a.request("PUT", "/v1/dns/aliases/loop2", json={"targets": ["loop1"]})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("#dns-alias-cycle")
    reserved = node_a.request("PUT", "/v1/dns/aliases/x.job", json={"targets": ["alpha.job"]})
    assert reserved.json()["type"].endswith("#reserved-dns-name")
    assert node_a.request("DELETE", "/v1/dns/aliases/loop1").status_code == 200
    assert node_a.request("GET", "/v1/dns/aliases/loop1").status_code == 404

    answer = dig(node_a, "nothing.job.cluster.local")
    assert "status: NXDOMAIN" in answer
    assert "AUTHORITY: 1" in answer and "SOA" in answer

    # alpha runs on dns-a; beta's record was written by dns-b.
    lookup = run("podman", "exec", app_container("alpha", 0), "nslookup", "beta.job.cluster.local")
    assert beta.pop() in lookup.stdout
