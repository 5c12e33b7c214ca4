"""Tests for reading OOM kills out of /dev/kmsg records."""

from pathlib import Path

import pytest

from ozymandias.runtime.kernel_log import oom_killed_container
from ozymandias.runtime.oom_kills import OomKills

ID = "67f237c80aed39935aee8af987190046ced43144d9e6661e27ab680d32bd9a06"
POD = "357ea54afebfa5dbc8e8b7b86f5a06e944cdee3c377ded8161aed320e419986f"


def oom_kill(oom_memcg: str, task_memcg: str) -> bytes:
    """An OOM kill's summary record, as this host's kernel (6.18, cgroup v1) writes it."""
    return (
        "6,41022,36070951815,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),"
        f"cpuset=libpod-{ID},mems_allowed=0,oom_memcg={oom_memcg},task_memcg={task_memcg},"
        "task=dd,pid=20410,uid=0\n"
    ).encode()


@pytest.mark.parametrize(
    ("record", "container"),
    [
        pytest.param(
            oom_kill(f"/libpod_parent/libpod-{ID}", f"/libpod_parent/libpod-{ID}"),
            ID,
            id="a container's own limit",
        ),
        pytest.param(
            oom_kill(f"/libpod_parent/{POD}", f"/libpod_parent/{POD}/libpod-{ID}"),
            ID,
            id="in a pod, the pod's limit: the killed task's cgroup names the container",
        ),
        pytest.param(
            oom_kill(f"/machine.slice/libpod-{ID}.scope", f"/machine.slice/libpod-{ID}.scope"),
            ID,
            id="podman's systemd cgroup manager",
        ),
        pytest.param(
            oom_kill("/", "/user.slice/session-1.scope"), None, id="a process of the host"
        ),
        pytest.param(
            oom_kill(f"/libpod_parent/libpod-{ID}", f"/libpod_parent/libpod-{ID[:12]}"),
            None,
            id="not a whole container id",
        ),
        pytest.param(
            b"6,41023,36070951834,-;Memory cgroup out of memory: Killed process 20410 (dd)"
            b" total-vm:67804kB\n",
            None,
            id="the kill's other line",
        ),
        pytest.param(
            f"6,41024,36070951900,-;podman0: port 1(veth0) libpod-{ID} task_memcg=x,\n".encode(),
            None,
            id="not an OOM kill, though it names the container",
        ),
        pytest.param(b"garbage without a message", None, id="no message"),
        pytest.param(b"", None, id="empty"),
    ],
)
def test_oom_killed_container(record: bytes, container: str | None) -> None:
    assert oom_killed_container(record) == container


def test_without_the_kernel_log_no_kill_is_reported(tmp_path: Path) -> None:
    kills = OomKills(tmp_path / "no-kmsg")
    kills.open()  # warns, does not fail: the node runs on, only without OOM reasons
    try:
        assert kills.killed(ID) is False
        kills.forget(ID)
    finally:
        kills.close()
