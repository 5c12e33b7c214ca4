"""Global ingress: any node's HAProxy serves instances that run on another host, by pod IP."""

from __future__ import annotations

import re

import httpx

from tests.integration.harness import wait_until
from tests.multihost.conftest import HostFactory
from tests.multihost.hosts import Host

JOB = """\
name: far
numInstances: 2
schedulingConstraints: {mayBeScheduledOn: [h2]}
ingress: {hosts: [far.test]}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 32M
    ports: ["80:3000"]
"""


def answer(host: Host, host_header: str) -> str:
    """The instance that answers through `host`'s ingress (default port 80), or the error."""
    try:
        response = httpx.get(f"http://{host.address}/", headers={"host": host_header}, timeout=5)
    except httpx.HTTPError as error:
        return repr(error)
    match = re.search(r'<span id="instance">([^<]*)</span>', response.text)
    return match.group(1) if match else f"HTTP {response.status_code}: {response.text}"


def test_ingress_on_one_host_serves_instances_on_another(make_hosts: HostFactory) -> None:
    h1, _h2 = make_hosts(2)
    h1.apply(JOB, "far")
    both = {"far-0", "far-1"}
    wait_until(
        lambda: {answer(h1, "far.localhost") for _ in range(4)} == both,
        timeout=90,
        what="h1's ingress to answer from both instances on h2",
    )
    assert {answer(h1, "far.test") for _ in range(4)} == both
    assert {i["node"] for i in h1.request("GET", "/v1/instances").json()} == {"h2"}
