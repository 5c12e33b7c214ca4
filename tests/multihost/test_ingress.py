"""Global ingress: any node's HAProxy serves instances that run on another host, by pod IP."""

from __future__ import annotations

import re

import httpx

from tests.support.hosts import Host, HostFactory
from tests.support.jobs import pinned_to, web_job
from tests.support.waiting import wait_until

JOB = web_job("far", 2, extra=pinned_to("h2") + "\ningress: {hosts: [far.test]}", ports=["80:3000"])


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
