"""Fault tolerance on real sandboxed hosts, a real 3-member etcd and real podman.

Nodes die (kill -9 of a whole host), daemons die and come back (in time, or
too late), hosts are cut off from the network, etcd loses a member or goes
away altogether, and survivors race to re-place a dead node's instances.
After each, every instance must run exactly once, where etcd says it runs.
"""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import invariant_violations
from tests.support.host_checks import (
    all_healthy,
    events,
    reported,
    running_on,
    timed_exactly_once,
    wait_exactly_once,
)
from tests.support.hosts import EtcdCluster, HostFactory
from tests.support.jobs import web_job
from tests.support.waiting import wait_until

JOB = "webapp"
TTL = 5  # the default lease TTL


def test_node_loss_re_places_its_instances_on_the_survivors(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(web_job(JOB, 6, healthcheck=True), JOB)
    placement = wait_exactly_once(hosts, hosts[0], JOB, 6)
    victim = hosts[2]
    assert sum(1 for host, _ in placement.values() if host == victim.name) == 2
    survivors = hosts[:2]

    killed = time.monotonic()
    victim.kill()
    elapsed, after = timed_exactly_once(survivors, survivors[0], JOB, 6, since=killed)
    print(f"node loss: instances running on the survivors {elapsed:.1f}s after kill -9")
    try:
        wait_until(
            lambda: all_healthy(survivors[0], JOB, 6),
            timeout=30,
            what="every instance healthy on the survivors",
        )
    except AssertionError as error:
        # Seen once in about 30 runs: say which instance, and what its node logged.
        states = {
            index: (item.get("node"), item.get("state"), item.get("health"), item.get("reason"))
            for index, item in reported(survivors[0], JOB).items()
        }
        logs = "\n".join(f"--- {host.name}\n{host.log_tail(80)}" for host in survivors)
        raise AssertionError(f"{error}\ninstances: {states}\n{logs}") from None
    assert all(host != victim.name for host, _ in after.values())
    # The instances that were not on the dead node were not touched.
    for index, (host, container) in placement.items():
        if host != victim.name:
            assert after[index] == (host, container)
    assert elapsed < 3 * TTL
    assert invariant_violations(etcd_cluster.endpoints) == []
    replaced = events(survivors[0], "instances-replaced", JOB)
    assert len(replaced) == 1 and "by peer" in replaced[0]["message"], replaced
    assert events(survivors[0], "node-lost")


def test_daemon_restarted_within_the_ttl_keeps_its_containers(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(2)
    hosts[0].apply(web_job(JOB, 4), JOB)
    before = wait_exactly_once(hosts, hosts[0], JOB, 4)

    restarted = hosts[1]
    restarted.kill_daemon()
    restarted.start_daemon()
    # Past the TTL of the lease the daemon kept: nothing may have moved.
    time.sleep(TTL + 1)
    after = wait_exactly_once(hosts, hosts[0], JOB, 4)
    assert after == before, "no container may be restarted, moved or duplicated"
    assert all(item["restarts"] == 0 for item in reported(hosts[0], JOB).values())
    assert events(hosts[0], "instances-replaced", JOB) == []
    assert invariant_violations(etcd_cluster.endpoints) == []


def test_daemon_restarted_after_its_lease_expired_starts_clean(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(web_job(JOB, 6), JOB)
    before = wait_exactly_once(hosts, hosts[0], JOB, 6)
    late = hosts[2]
    old_containers = {c for host, c in before.values() if host == late.name}
    assert old_containers

    late.kill_daemon()  # its containers live on, unsupervised
    wait_until(
        lambda: not etcd_cluster.keys(f"/ozy/nodes/{late.name}"),
        timeout=3 * TTL,
        what=f"{late.name}'s lease to expire",
    )
    # Peers re-place its instances while its old containers still run.
    wait_until(
        lambda: (
            late.name not in etcd_cluster.get_json(f"/ozy/schedules/{JOB}")["placements"].values()
        ),
        timeout=3 * TTL,
        what="re-placement away from the dead daemon",
    )
    late.start_daemon()
    after = wait_exactly_once(hosts, hosts[0], JOB, 6)
    assert not old_containers & set(late.running_instances(JOB).values())
    assert not old_containers & {c for _, c in after.values()}
    assert invariant_violations(etcd_cluster.endpoints) == []


@pytest.mark.parametrize("how", ["link", "drop"])
def test_partitioned_host_fences_and_rejoins(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster, how: str
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(web_job(JOB, 6), JOB)
    before = wait_exactly_once(hosts, hosts[0], JOB, 6)
    cut_off = hosts[2]
    assert any(host == cut_off.name for host, _ in before.values())

    cut_off.partition(how)
    try:
        # Re-placed on the others, and stopped on the partitioned host (fenced).
        wait_exactly_once(hosts[:2], hosts[0], JOB, 6, timeout=6 * TTL)
        wait_until(
            lambda: not cut_off.running_instances(JOB),
            timeout=3 * TTL,
            what=f"{cut_off.name} to stop its instances",
        )
    finally:
        cut_off.heal()
    wait_until(
        lambda: etcd_cluster.keys(f"/ozy/nodes/{cut_off.name}"),
        timeout=30,
        what=f"{cut_off.name} to rejoin",
    )
    # After the heal, still exactly once, on all three hosts counted.
    time.sleep(2)
    wait_exactly_once(hosts, hosts[0], JOB, 6)
    assert invariant_violations(etcd_cluster.endpoints) == []
    fenced = wait_until(lambda: events(hosts[0], "node-fenced"), timeout=10, what="fence event")
    assert cut_off.name in fenced[0]["message"]


def test_losing_one_of_three_etcd_members(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    etcd_cluster.kill_member(etcd_cluster.members[0])
    try:
        hosts[0].apply(web_job(JOB, 6), JOB)
        wait_exactly_once(hosts, hosts[0], JOB, 6)
        hosts[1].request("POST", f"/v1/jobs/{JOB}/scale", json={"numInstances": 4})
        wait_exactly_once(hosts, hosts[0], JOB, 4)
        # Failover through the two members left.
        killed = time.monotonic()
        hosts[2].kill()
        wait_exactly_once(hosts[:2], hosts[0], JOB, 4, timeout=6 * TTL)
        print(f"etcd member loss: failover in {time.monotonic() - killed:.1f}s")
        assert invariant_violations(etcd_cluster.endpoints) == []
    finally:
        etcd_cluster.start()


def test_etcd_down_for_30s_changes_nothing(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(web_job(JOB, 6), JOB)
    before = wait_exactly_once(hosts, hosts[0], JOB, 6)

    etcd_cluster.stop()
    try:
        time.sleep(30)
        # Nobody could re-place anything, so nobody fenced: the very same containers run.
        assert running_on(hosts, JOB) == {i: [where] for i, where in before.items()}
        assert all(host.daemon_pid() is not None for host in hosts)
    finally:
        etcd_cluster.start()
    after = wait_exactly_once(hosts, hosts[0], JOB, 6, timeout=30)
    assert after == before
    # The cluster works again: a change is committed and carried out.
    wait_until(
        lambda: (
            hosts[1].request("POST", f"/v1/jobs/{JOB}/scale", json={"numInstances": 7}).status_code
            == 200
        ),
        timeout=20,
        what="a scale after etcd came back",
    )
    wait_exactly_once(hosts, hosts[0], JOB, 7)
    assert events(hosts[0], "node-fenced") == []
    assert invariant_violations(etcd_cluster.endpoints) == []


def test_five_survivors_race_to_re_place_a_dead_node(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(6)
    jobs = [f"race-{n}" for n in range(4)]
    for job in jobs:
        hosts[0].apply(web_job(job, 6), job)
    for job in jobs:
        wait_exactly_once(hosts, hosts[0], job, 6)
    victim, survivors = hosts[0], hosts[1:]

    victim.kill()
    for job in jobs:
        wait_exactly_once(survivors, survivors[0], job, 6, timeout=6 * TTL)
    assert invariant_violations(etcd_cluster.endpoints) == []
    # One winner per job: exactly one re-placement was committed for each.
    for job in jobs:
        replaced = events(survivors[0], "instances-replaced", job)
        assert len(replaced) == 1, replaced
    lost = sum(host.log_path.read_text().count("lost a race") for host in survivors)
    winners = {e["node"] for job in jobs for e in events(survivors[0], "instances-replaced", job)}
    print(f"racing re-placers: winners {sorted(winners)}, {lost} lost races")
