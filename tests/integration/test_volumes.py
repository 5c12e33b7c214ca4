"""Volumes end to end: real nodes, real pods, loop-mounted local volumes, shared directories.

The shared storage of a zone is one directory that every node of the zone is
given with --shared-storage, as nodes would mount one NFS export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.machine import mounted_under, run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container, containers_with_label
from tests.support.waiting import wait_until

M = 1024**2

LOCAL_JOB = """
name: {name}
numInstances: {count}
schedulingConstraints: {{mayBeScheduledOn: [{node}]}}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 32M
    restart: always
    volumes:
      - {{type: local, path: /data/scratch, space: 8M}}
"""

SHARED_JOB = """
name: {name}
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: {memory}
    volumes:
      - {{type: shared, path: /data/shared, space: 16M}}
"""


def in_container(job: str, index: int, script: str, check: bool = True) -> Any:
    return run("podman", "exec", app_container(job, index), "sh", "-c", script, check=check)


def local_volume_dir(node: NodeProcess, job: str, index: int) -> Path:
    return node.work_dir / node.name / "local-volumes" / job / str(index) / "data-scratch"


def disk_allocated(node: NodeProcess) -> int:
    nodes = node.request("GET", "/v1/nodes").json()
    return int(next(item for item in nodes if item["name"] == node.name)["allocated"]["disk"])


def volumes(node: NodeProcess) -> list[dict[str, Any]]:
    response = node.request("GET", "/v1/volumes")
    response.raise_for_status()
    return list(response.json())


def shared_volume(node: NodeProcess, name: str) -> dict[str, Any] | None:
    return next((item for item in volumes(node) if item["name"] == name), None)


def test_local_volume_is_size_limited_and_survives_a_container_restart(
    make_node: NodeFactory,
) -> None:
    node = make_node("vol-limit")
    assert node.apply(LOCAL_JOB.format(name="scratch", count=1, node=node.name)).status_code == 201
    node.wait_running("scratch", 1)
    host_dir = local_volume_dir(node, "scratch", 0)
    assert str(host_dir) in mounted_under(node.work_dir)

    # Writing past the 8M volume fails inside the container with ENOSPC...
    overflow = in_container(
        "scratch", 0, "dd if=/dev/zero of=/data/scratch/fill bs=1M count=20", check=False
    )
    assert overflow.returncode != 0
    assert "No space left on device" in overflow.stderr
    # ...while the container's own filesystem still takes writes.
    in_container("scratch", 0, "dd if=/dev/zero of=/tmp/elsewhere bs=1M count=1")
    in_container("scratch", 0, "rm /data/scratch/fill; echo kept > /data/scratch/marker")

    # A container restart (a crash, restarted by the `always` policy) keeps the volume.
    run("podman", "kill", app_container("scratch", 0))
    wait_until(
        lambda: (
            node.instances("scratch")[0]["restarts"] >= 1
            and node.instances("scratch")[0]["state"] == "running"
        ),
        timeout=60,
        what="scratch-0 restarted",
    )
    assert in_container("scratch", 0, "cat /data/scratch/marker").stdout.strip() == "kept"
    listed = [item for item in volumes(node) if item["kind"] == "local"]
    assert [(v["name"], v["node"], v["size"], v["state"]) for v in listed] == [
        ("scratch-0/data-scratch", node.name, 8 * M, "in-use")
    ]


def test_local_volumes_go_with_scale_down_and_delete(make_node: NodeFactory) -> None:
    node = make_node("vol-free")
    assert node.apply(LOCAL_JOB.format(name="freed", count=2, node=node.name)).status_code == 201
    node.wait_running("freed", 2)
    assert disk_allocated(node) == 16 * M
    first, second = local_volume_dir(node, "freed", 0), local_volume_dir(node, "freed", 1)
    assert first.is_dir() and second.is_dir()

    assert node.request("POST", "/v1/jobs/freed/scale", json={"numInstances": 1}).is_success
    assert disk_allocated(node) == 8 * M
    wait_until(
        lambda: not second.exists() and str(second) not in mounted_under(node.work_dir),
        timeout=60,
        what="freed-1's volume removed",
    )
    assert str(first) in mounted_under(node.work_dir)

    assert node.request("DELETE", "/v1/jobs/freed").is_success
    assert disk_allocated(node) == 0
    wait_until(
        lambda: not first.exists() and not mounted_under(node.work_dir / node.name),
        timeout=60,
        what="freed-0's volume removed",
    )
    wait_until(
        lambda: not [v for v in volumes(node) if v["job"] == "freed"],
        timeout=30,
        what="no volumes of freed listed",
    )


def test_volume_of_a_pod_that_never_started_is_released(make_node: NodeFactory) -> None:
    node = make_node("vol-nostart")
    # A program the image lacks: the pod is made (volumes first), and its start fails.
    broken = LOCAL_JOB.format(name="broken", count=1, node=node.name).replace(
        "    memory: 32M\n", "    command: [/no/such/program]\n    memory: 32M\n"
    )
    assert node.apply(broken).status_code == 201
    volume = local_volume_dir(node, "broken", 0)
    wait_until(
        lambda: node.instances("broken")[0]["state"] == "failed" and volume.is_dir(),
        timeout=60,
        what="broken-0 failed with its volume made",
    )
    assert node.request("DELETE", "/v1/jobs/broken").is_success
    wait_until(
        lambda: not volume.exists() and not mounted_under(node.work_dir / node.name),
        timeout=60,
        what="broken-0's volume released",
    )


def test_shared_volume_is_shared_kept_on_delete_and_purged_on_request(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    storage = tmp_path / "zone-a-storage"
    storage.mkdir()
    shared = ("--shared-storage", str(storage))
    first = make_node("vol-sh1", labels="zone=a", extra_args=shared)
    make_node("vol-sh2", labels="zone=a", extra_args=shared)
    job = SHARED_JOB.format(name="notes", count=2, memory="32M")
    assert first.apply(job).status_code == 201
    instances = first.wait_running("notes", 2)
    assert {item["node"] for item in instances} == {"vol-sh1", "vol-sh2"}  # spread over nodes

    # Instances on two nodes see each other's writes.
    in_container("notes", 0, "echo from-0 > /data/shared/note")
    assert in_container("notes", 1, "cat /data/shared/note").stdout.strip() == "from-0"
    listed = shared_volume(first, "notes/data-shared")
    assert listed is not None
    assert (listed["kind"], listed["zone"], listed["size"], listed["state"]) == (
        "shared",
        "a",
        16 * M,
        "in-use",
    )

    # Deleting the job keeps the volume and its data...
    reply = first.request("DELETE", "/v1/jobs/notes")
    assert reply.json()["keptVolumes"] == ["notes/data-shared"]
    wait_until(lambda: not containers_with_label("ozy.job=notes"), what="notes' pods gone")
    assert (storage / "notes" / "data-shared" / "note").read_text() == "from-0\n"
    kept = shared_volume(first, "notes/data-shared")
    assert kept is not None and kept["state"] == "kept"

    # ...and the job re-created under its name gets it back.
    assert first.apply(job).status_code == 201
    first.wait_running("notes", 2)
    assert in_container("notes", 1, "cat /data/shared/note").stdout.strip() == "from-0"

    # A volume in use can't be deleted on its own.
    refused = first.request("DELETE", "/v1/volumes/notes/data-shared")
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("#volume-in-use")

    # Deleting with purgeVolumes removes the data once the pods are gone.
    assert first.request("DELETE", "/v1/jobs/notes", params={"purgeVolumes": "true"}).is_success
    wait_until(
        lambda: (
            shared_volume(first, "notes/data-shared") is None and not (storage / "notes").exists()
        ),
        timeout=60,
        what="notes/data-shared purged",
    )


def test_kept_shared_volume_is_deleted_on_its_own(make_node: NodeFactory, tmp_path: Path) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    node = make_node("vol-keep", extra_args=("--shared-storage", str(storage)))
    assert node.apply(SHARED_JOB.format(name="kept", count=1, memory="32M")).status_code == 201
    node.wait_running("kept", 1)
    in_container("kept", 0, "echo data > /data/shared/file")
    listed = shared_volume(node, "kept/data-shared")
    assert listed is not None and listed["node"] == node.name  # a zoneless node is its own domain
    assert node.request("DELETE", "/v1/jobs/kept").is_success
    assert (storage / "kept" / "data-shared" / "file").exists()

    assert node.request("DELETE", "/v1/volumes/kept/data-shared").status_code == 202
    wait_until(
        lambda: shared_volume(node, "kept/data-shared") is None and not (storage / "kept").exists(),
        timeout=60,
        what="kept/data-shared removed",
    )
    missing = node.request("DELETE", "/v1/volumes/kept/data-shared")
    assert missing.status_code == 404


def test_a_volume_no_live_node_reaches_can_be_forgotten(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    holder = make_node("vol-fa", labels="zone=a", extra_args=("--shared-storage", str(storage)))
    survivor = make_node("vol-fb")  # no shared storage: the job can only go to vol-fa
    assert holder.apply(SHARED_JOB.format(name="stranded", count=1, memory="32M")).is_success
    holder.wait_running("stranded", 1)
    in_container("stranded", 0, "echo data > /data/shared/file")
    assert holder.request("DELETE", "/v1/jobs/stranded").is_success
    wait_until(lambda: not containers_with_label("ozy.job=stranded"), what="stranded's pod gone")
    holder.stop()  # zone a has no live node left

    asked = survivor.request("DELETE", "/v1/volumes/stranded/data-shared")
    assert asked.status_code == 202 and asked.json()["reachable"] is False, asked.text
    listed = shared_volume(survivor, "stranded/data-shared")
    assert listed is not None and listed["state"] == "deleting"

    forgotten = survivor.request("DELETE", "/v1/volumes/stranded/data-shared?forget=true")
    assert forgotten.status_code == 200 and forgotten.json()["forgotten"] is True, forgotten.text
    assert shared_volume(survivor, "stranded/data-shared") is None
    assert (storage / "stranded" / "data-shared" / "file").read_text() == "data\n"
    events = survivor.request("GET", "/v1/events", params={"job": "stranded"}).json()
    assert any(event["kind"] == "volume-forgotten" for event in events)
    gone = survivor.request("DELETE", "/v1/volumes/stranded/data-shared?forget=true")
    assert gone.status_code == 404


def test_a_volume_the_job_no_longer_mounts_can_be_deleted(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    node = make_node("vol-drop", extra_args=("--shared-storage", str(storage)))
    with_volume = SHARED_JOB.format(name="dropper", count=1, memory="32M")
    assert node.apply(with_volume).status_code == 201
    node.wait_running("dropper", 1)
    without = with_volume.split("    volumes:")[0]
    assert node.apply(without).status_code == 200  # a new version, with no volume

    listed = shared_volume(node, "dropper/data-shared")
    assert listed is not None and listed["state"] == "kept"
    assert node.request("DELETE", "/v1/volumes/dropper/data-shared").status_code == 202
    wait_until(
        lambda: (
            shared_volume(node, "dropper/data-shared") is None
            and not (storage / "dropper").exists()
        ),
        timeout=60,
        what="dropper/data-shared removed while its job lives on",
    )
    node.wait_running("dropper", 1)


def test_shared_volume_keeps_the_job_in_its_zone(make_node: NodeFactory, tmp_path: Path) -> None:
    zone_a, zone_b = tmp_path / "a", tmp_path / "b"
    zone_a.mkdir()
    zone_b.mkdir()
    # Two 400M pods fit each node: zone a holds four, zone b two.
    a1 = make_node(
        "vz-a1", memory="800M", labels="zone=a", extra_args=("--shared-storage", str(zone_a))
    )
    make_node("vz-a2", memory="800M", labels="zone=a", extra_args=("--shared-storage", str(zone_a)))
    make_node("vz-b1", memory="800M", labels="zone=b", extra_args=("--shared-storage", str(zone_b)))

    assert a1.apply(SHARED_JOB.format(name="zoned", count=1, memory="400M")).status_code == 201
    placed = a1.wait_running("zoned", 1)
    zone = {"vz-a1": "a", "vz-a2": "a", "vz-b1": "b"}[placed[0]["node"]]
    assert zone == "a"  # the zone of the first placement: the lowest-named of equal choices
    listed = shared_volume(a1, "zoned/data-shared")
    assert listed is not None and listed["zone"] == "a"

    scaled = a1.request("POST", "/v1/jobs/zoned/scale", json={"numInstances": 4})
    assert scaled.is_success, scaled.text
    assert {node for node in scaled.json()["placements"].values()} == {"vz-a1", "vz-a2"}

    refused = a1.request("POST", "/v1/jobs/zoned/scale", json={"numInstances": 5})
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"].endswith("#volume-topology-conflict")
    assert "are in zone a" in problem["detail"]
    # Nothing was written.
    assert a1.request("GET", "/v1/jobs/zoned").json()["numInstances"] == 4


def test_job_needing_more_disk_than_any_node_is_rejected(make_node: NodeFactory) -> None:
    node = make_node("vol-big", disk="1G")
    big = LOCAL_JOB.format(name="huge", count=1, node=node.name).replace("8M", "2G")
    reply = node.apply(big)
    assert reply.status_code == 422
    problem = reply.json()
    assert problem["type"].endswith("#insufficient-disk")
    assert problem["detail"] == (
        "Job requires 2G of disk (1 × 2G) but no instance fits (1G free on 1 node)"
    )
    assert node.request("GET", "/v1/jobs/huge").status_code == 404
    assert disk_allocated(node) == 0
