"""Every node's ingress: Host routing and TCP ports through HAProxy to healthy instances."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import httpx

from tests.support.client_loop import ClientLoop
from tests.support.jobs import web_job
from tests.support.machine import free_tcp_ingress_port, run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container
from tests.support.waiting import wait_until

# The app clears its failure flag when it starts, so a restart cures it.
WEB_JOB = """
name: shop
numInstances: 3
ingress: {{hosts: [shop.test]}}
containers:
  app:
    image: localhost/ozy-example-web:latest
    command: ["sh", "-c", "rm -f /tmp/unhealthy; exec /srv/entrypoint.sh"]
    memory: 32M
    ports: ["80:3000"]
    healthcheck:
      {{type: http, port: 3000, path: /healthcheck, interval: 1, timeout: 1,
       unhealthy_threshold: 2, start_period: 2}}
"""

EMPTY_JOB = web_job("idle", 0, ports=["80:3000"])

ECHO_JOB = """
name: echo
ingress:
  tcp: [{{port: {port}, targetPort: 5432}}]
containers:
  db:
    image: localhost/ozy-example-db:latest
    memory: 32M
    ports: ["5432"]
    healthcheck: {{type: tcp, port: 5432, interval: 1, timeout: 1}}
"""


def get(node: NodeProcess, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(
        f"http://127.0.0.1:{node.ingress_port}{path}", headers={"host": host}, timeout=10
    )


def instance_of(response: httpx.Response) -> str:
    match = re.search(r'<span id="instance">([^<]*)</span>', response.text)
    assert response.status_code == 200 and match, (response.status_code, response.text)
    return match.group(1)


def answering(node: NodeProcess, host: str, requests: int) -> set[str]:
    return {instance_of(get(node, host)) for _ in range(requests)}


def healthy_backends(node: NodeProcess, job: str) -> int:
    routes = node.request("GET", "/v1/ingress").json()["http"]
    return next((route["healthy"] for route in routes if route["job"] == job), -1)


def test_host_routing_health_and_errors(make_node: NodeFactory) -> None:
    node = make_node("ingress-a")
    assert node.apply(WEB_JOB.format()).status_code == 201
    assert node.apply(EMPTY_JOB).status_code == 201
    node.wait_running("shop", 3)
    wait_until(lambda: healthy_backends(node, "shop") == 3, what="3 healthy backends")
    everyone = {"shop-0", "shop-1", "shop-2"}
    # Round robin: the instances answer in turn.
    wait_until(lambda: answering(node, "shop.localhost", 3) == everyone, what="all 3 in turn")
    assert answering(node, "SHOP.test:8080", 3) == everyone

    unknown = get(node, "nobody.test")
    assert unknown.status_code == 404
    assert "nobody.test" in unknown.text
    no_instance = get(node, "idle.localhost")
    assert no_instance.status_code == 503
    assert "idle" in no_instance.text

    listed = run(
        ".venv/bin/ozy", "get", "ingress", "--api", node.api
    ).stdout  # the CLI, as users see it
    assert "shop.localhost" in listed and "shop.test" in listed

    run("podman", "exec", app_container("shop", 1), "touch", "/tmp/unhealthy")
    wait_until(
        lambda: "shop-1" not in answering(node, "shop.localhost", 6),
        timeout=10,
        interval=0.1,
        what="the unhealthy instance to leave the rotation",
    )
    # It is restarted, passes its check and comes back.
    wait_until(lambda: answering(node, "shop.localhost", 6) == everyone, what="shop-1 back")


def test_no_failed_request_while_an_instance_is_killed_and_restarted(
    make_node: NodeFactory,
) -> None:
    node = make_node("ingress-b")
    assert node.apply(WEB_JOB.format()).status_code == 201
    node.wait_running("shop", 3)
    wait_until(lambda: healthy_backends(node, "shop") == 3, what="3 healthy backends")

    with ClientLoop(node, "shop.localhost", 500) as loop:
        run("podman", "kill", app_container("shop", 0))
        wait_until(lambda: healthy_backends(node, "shop") == 2, timeout=15, what="shop-0 down")
        wait_until(lambda: healthy_backends(node, "shop") == 3, timeout=60, what="shop-0 back")
    assert loop.done == 500
    assert loop.failures == []


def released(instance: dict[str, Any]) -> bool:
    """Whether an instance's running app container has the new spec's environment."""
    try:
        container = app_container("shop", int(instance["index"]))
    except AssertionError:
        return False
    env = run("podman", "exec", container, "env", check=False)
    return env.returncode == 0 and "RELEASE=2" in env.stdout


def test_a_new_spec_rolls_out_without_a_failed_request_or_a_missing_instance(
    make_node: NodeFactory,
) -> None:
    node = make_node("ingress-roll")
    first = node.apply(WEB_JOB.format())
    assert first.status_code == 201, first.text
    node.wait_running("shop", 3)
    wait_until(lambda: healthy_backends(node, "shop") == 3, what="3 healthy backends")

    new_spec = WEB_JOB.format().replace("memory: 32M", "memory: 32M\n    environment: {RELEASE: 2}")
    new_spec += "update: {min_healthy_time: 1s}\n"
    healthy_seen: list[int] = []
    with ClientLoop(node, "shop.localhost", None) as loop:
        assert node.apply(new_spec).status_code == 200

        def rolled_out() -> bool:
            healthy_seen.append(healthy_backends(node, "shop"))
            instances = node.instances("shop")
            if len(instances) != 3 or not all(i["health"] == "healthy" for i in instances):
                return False
            return all(released(instance) for instance in instances)

        wait_until(rolled_out, timeout=120, interval=0.2, what="every instance on the new spec")
    assert loop.failures == []
    # Surge first: each new instance is healthy before an old one goes.
    assert min(healthy_seen) >= 3, healthy_seen


def test_tcp_ingress_port(make_node: NodeFactory) -> None:
    node = make_node("ingress-c")
    port = free_tcp_ingress_port()
    assert node.apply(ECHO_JOB.format(port=port)).status_code == 201
    node.wait_running("echo", 1)

    def tcp_healthy() -> bool:
        routes = node.request("GET", "/v1/ingress").json()["tcp"]
        return any(route["port"] == port and route["healthy"] == 1 for route in routes)

    wait_until(tcp_healthy, what="the TCP route's backend")
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(b"hello ingress\n")
                assert connection.recv(100) == b"hello ingress\n"
                return
        except OSError:
            # HAProxy opens the port a moment after the route appears in the API.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# A backend that answers every request with the request's own header lines.
HEADERS_JOB = """
name: headers
containers:
  app:
    image: localhost/ozy-example-tools:latest
    memory: 16M
    ports: ["80:8000"]
    environment:
      HANDLER: |
        while read -r line; do
          line=$(printf '%s' "$line" | tr -d '\\r')
          [ -z "$line" ] && break
          echo "$line" >> /tmp/headers.$$
        done
        printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n'
        cat /tmp/headers.$$
        rm -f /tmp/headers.$$
    command:
      ["sh", "-c", "printf '%s' \\"$HANDLER\\" > /tmp/h && exec nc -ll -p 8000 -e sh /tmp/h"]
"""


def status_through(node: NodeProcess, host: str) -> int:
    """The ingress's answer to `host`, or 0 while nothing listens."""
    try:
        return get(node, host).status_code
    except httpx.HTTPError:
        return 0


def haproxy_pids(node: NodeProcess) -> set[int]:
    """The node's HAProxy master and workers, not a passing `haproxy -c` config check."""
    found = run("pgrep", "-a", "-f", f"/run/ozymandias/{node.name}/haproxy/", check=False).stdout
    return {int(line.split()[0]) for line in found.splitlines() if " -c " not in line}


def test_forwarded_headers_and_a_restarted_haproxy(make_node: NodeFactory) -> None:
    node = make_node("ingress-hdr")
    assert node.apply(HEADERS_JOB).status_code == 201
    wait_until(lambda: get(node, "headers.localhost").status_code == 200, what="headers routed")

    echoed = get(node, "headers.localhost:8080").text.lower().splitlines()
    assert "x-forwarded-for: 127.0.0.1" in echoed
    assert "x-forwarded-proto: http" in echoed
    assert "x-forwarded-host: headers.localhost:8080" in echoed

    # HAProxy (its master and worker) dies: the node starts it again, with the routes it had.
    old: set[int] = wait_until(
        lambda: len(pids := haproxy_pids(node)) == 2 and pids,
        what="HAProxy's master and one worker",
    )
    # Not checked: a reload may retire a worker between pgrep and kill; the wait
    # below wants every old process gone either way.
    run("kill", "-9", *map(str, old), check=False)
    wait_until(
        lambda: (
            haproxy_pids(node)
            and not haproxy_pids(node) & old
            and status_through(node, "headers.localhost") == 200
        ),
        timeout=30,
        what="HAProxy restarted and routing again",
    )
