"""A system job (`type: system`) on sandboxed hosts: one instance on every host, a host that
joins gets one within 10 s, a killed host takes its instance with it (nothing pending), and
a node selector keeps it to one zone."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from tests.support.cluster import invariant_violations
from tests.support.host_checks import reported, running_on
from tests.support.hosts import EtcdCluster, Host, HostFactory
from tests.support.jobs import WEB_IMAGE
from tests.support.waiting import wait_until

JOB = "exporter"
TTL = 5  # the hosts' lease TTL


def system_job(extra: str = "") -> str:
    return (
        f"name: {JOB}\ntype: system\n{extra}"
        f"containers:\n  app:\n    image: {WEB_IMAGE}\n    memory: 32M\n"
    )


def once_on_each(hosts: Sequence[Host], api_host: Host) -> bool:
    """Whether the job runs exactly once on each of `hosts` and nowhere else, etcd agreeing,
    with nothing pending."""
    try:
        running = running_on(hosts, JOB)
        states = reported(api_host, JOB)
    except (httpx.HTTPError, OSError):
        return False
    where = [host for found in running.values() for host, _ in found]
    if sorted(where) != sorted(host.name for host in hosts):
        return False
    if len(states) != len(hosts) or any(item["reason"] for item in states.values()):
        return False
    return all(
        states.get(index, {}).get("node") == host and states[index]["state"] == "running"
        for index, [(host, _)] in running.items()
    )


def test_every_host_runs_one_as_hosts_join_and_die(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(system_job(), JOB)
    wait_until(lambda: once_on_each(hosts, hosts[0]), timeout=90, what="one on each host")

    [joined] = make_hosts(1)  # returns once every host sees it
    since = time.monotonic()
    placed = wait_until(
        lambda: joined.name in {item["node"] for item in reported(hosts[0], JOB).values()},
        timeout=10,
        what=f"{JOB} placed on the host that joined",
    )
    assert placed and time.monotonic() - since < 10
    everyone = [*hosts, joined]
    wait_until(lambda: once_on_each(everyone, hosts[0]), timeout=90, what="one on each of 4")

    victim = hosts[2]
    victim.kill()
    survivors = [hosts[0], hosts[1], joined]
    wait_until(
        lambda: once_on_each(survivors, hosts[0]),
        timeout=6 * TTL,
        what="the killed host's instance gone with it, nothing pending",
    )
    assert invariant_violations(etcd_cluster.endpoints) == []


def test_a_node_selector_keeps_it_to_one_zone(make_hosts: HostFactory) -> None:
    zone_a = make_hosts(2, labels="zone=a")
    zone_b = make_hosts(1, labels="zone=b")
    zone_a[0].apply(system_job("nodeSelector: {zone: a}\n"), JOB)
    wait_until(lambda: once_on_each(zone_a, zone_b[0]), timeout=90, what="one on each zone-a host")
    assert not running_on(zone_b, JOB)
