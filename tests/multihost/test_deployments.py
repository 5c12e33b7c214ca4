"""A deployment survives the death of the node taking its steps (real hosts, real etcd)."""

from __future__ import annotations

from typing import Any

from ozymandias.deployments.deployer import responsible_node
from tests.support.cluster import invariant_violations
from tests.support.host_checks import events
from tests.support.hosts import EtcdCluster, Host, HostFactory
from tests.support.jobs import web_job
from tests.support.waiting import wait_until

JOB = "rolling"
UPDATE = "update: {min_healthy_time: 3s, healthy_deadline: 60s, progress_deadline: 120s}"


def deployment(host: Host) -> dict[str, Any]:
    answer = host.request("GET", f"/v1/jobs/{JOB}/deployment")
    return dict(answer.json()) if answer.status_code == 200 else {}


def retired(host: Host) -> int:
    return sum("healthy; stopping" in event["message"] for event in events(host, "deployment", JOB))


def test_a_node_killed_mid_deployment_does_not_stall_it(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster
) -> None:
    hosts = make_hosts(3)
    hosts[0].apply(web_job(JOB, 4, healthcheck=True, extra=UPDATE), JOB)
    wait_until(
        lambda: deployment(hosts[0]).get("status") == "successful",
        timeout=120,
        what="version 1 deployed",
    )
    # The node that takes the deployment's steps dies once the rollout is under way.
    stepper = responsible_node(JOB, [host.name for host in hosts])
    victim = next(host for host in hosts if host.name == stepper)
    survivor = next(host for host in hosts if host is not victim)
    survivor.apply(web_job(JOB, 4, memory="40M", healthcheck=True, extra=UPDATE), JOB)
    wait_until(lambda: retired(survivor) >= 1, timeout=90, what="the first old instance retired")
    victim.kill()
    # Three more to replace, 3s each at least: the deployment was still under way.
    assert retired(survivor) < 4

    def done() -> bool:
        found = deployment(survivor)
        return found.get("version") == 2 and found.get("status") == "successful"

    wait_until(done, timeout=180, what="the deployment to finish without its first stepper")
    instances = survivor.request("GET", "/v1/instances", params={"job": JOB}).json()
    assert len(instances) == 4
    assert {i["specVersion"] for i in instances} == {2}
    assert all(i["node"] != victim.name for i in instances)
    assert invariant_violations(etcd_cluster.endpoints) == []
