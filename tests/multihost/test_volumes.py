"""Volumes on real sandboxed hosts: a zone's hosts share storage, other zones' don't.

Each zone's shared storage is one directory that every host of the zone is
given with --shared-storage, as hosts would mount one NFS export. Local
volumes are loop-mounted inside each host's own mount namespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.cluster import invariant_violations
from tests.support.hosts import EtcdCluster, Host, HostFactory
from tests.support.waiting import wait_until

JOB = "notes"

# Two 400M pods fit a 1G host: zone a (two hosts) holds four instances, zone b two.
SPEC = """
name: notes
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 400M
    volumes:
      - {{type: shared, path: /data/shared, space: 64M}}
      - {{type: local, path: /data/scratch, space: 4M}}
"""


def in_instance(hosts: list[Host], index: int, script: str) -> str:
    for host in hosts:
        container = host.running_instances(JOB).get(index)
        if container is not None:
            return host.podman_output("exec", container, "sh", "-c", script).strip()
    raise AssertionError(f"{JOB}-{index} runs nowhere")


def placements(host: Host) -> dict[int, str]:
    job: dict[str, Any] = host.request("GET", f"/v1/jobs/{JOB}").json()
    return {int(index): node for index, node in job["placements"].items()}


def test_a_shared_volume_keeps_its_job_in_one_zone_across_hosts(
    make_hosts: HostFactory, etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    zone_a, zone_b = tmp_path / "zone-a", tmp_path / "zone-b"
    zone_a.mkdir()
    zone_b.mkdir()
    a1, a2 = make_hosts(2, labels="zone=a", extra_args=("--shared-storage", str(zone_a)))
    (b1,) = make_hosts(1, labels="zone=b", extra_args=("--shared-storage", str(zone_b)))
    hosts = [a1, a2, b1]

    a1.apply(SPEC.format(count=2), JOB)
    wait_until(lambda: len(placements(a1)) == 2, what="two instances placed")
    assert sorted(placements(a1).values()) == [a1.name, a2.name]
    wait_until(
        lambda: all(
            i in {**a1.running_instances(JOB), **a2.running_instances(JOB)} for i in (0, 1)
        ),
        timeout=90,
        what="both instances running",
    )

    # Instances on two hosts of the zone see each other's writes.
    in_instance(hosts, 0, "echo from-0 > /data/shared/note")
    assert in_instance(hosts, 1, "cat /data/shared/note") == "from-0"
    assert (zone_a / JOB / "data-shared" / "note").read_text() == "from-0\n"
    assert not (zone_b / JOB).exists()

    # Scaling up fills zone a only; past it, the zone's limit is the job's.
    scaled = a1.request("POST", f"/v1/jobs/{JOB}/scale", json={"numInstances": 4})
    assert scaled.is_success, scaled.text
    assert set(placements(a1).values()) == {a1.name, a2.name}
    refused = a1.request("POST", f"/v1/jobs/{JOB}/scale", json={"numInstances": 5})
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("#volume-topology-conflict")
    assert "in zone a" in refused.json()["detail"]

    # When a host of the zone dies, its instances wait for room in the zone
    # rather than move to zone b, where the volume can't be reached.
    a2.kill()
    wait_until(
        lambda: a2.name not in placements(a1).values() and len(placements(a1)) == 2,
        timeout=60,
        what="a2's instances taken off it",
    )
    job = a1.request("GET", f"/v1/jobs/{JOB}").json()
    assert set(job["placements"].values()) == {a1.name}
    assert len(job["pending"]) == 2
    assert invariant_violations(etcd_cluster.endpoints) == []
