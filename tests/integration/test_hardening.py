"""Hardened containers by default (issue #14), checked in running containers.

Every container runs with no-new-privileges, without CAP_NET_RAW (podman 4's
default capabilities, everything else dropped), a pids limit, a bounded log
and, when the spec asks for `cpus`, a CFS quota. The checks read the kernel's
view (/proc/1/status, the cgroup files), not podman's configuration.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from ozymandias.runtime.models import CAPABILITIES, LOG_SIZE
from tests.support.jobs import web_job
from tests.support.machine import run
from tests.support.nodes import NodeFactory
from tests.support.podman import app_container, containers_with_label
from tests.support.waiting import wait_until

TOOLS_IMAGE = "localhost/ozy-example-tools:latest"

# Linux capability numbers (linux/capability.h) of the capabilities containers keep.
CAPABILITY_BITS = {
    "CHOWN": 0,
    "DAC_OVERRIDE": 1,
    "FOWNER": 3,
    "FSETID": 4,
    "KILL": 5,
    "SETGID": 6,
    "SETUID": 7,
    "SETPCAP": 8,
    "NET_BIND_SERVICE": 10,
    "SYS_CHROOT": 18,
    "SETFCAP": 31,
}
CAP_NET_RAW = 13

# `app` idles (the tools image's default command) under half a core; `plain` has no quota.
HARDENED_JOB = f"""
name: hardened
containers:
  app:
    image: {TOOLS_IMAGE}
    memory: 16M
    cpus: 0.5
  plain:
    image: {TOOLS_IMAGE}
    memory: 16M
"""

# PID 1 forks twice and then only waits, so it survives the bomb: the subshell
# forks sleeps until the pids limit refuses one, which ends it (busybox sh exits
# when a fork fails), leaving the cgroup full. `cpus` bounds the bomb's CPU too.
BOMB_SCRIPT = (
    "trap 'exit 0' TERM; sleep 100000 & keep=$!;"
    " (while :; do sleep 1000 & done) 2>/dev/null & wait $keep"
)
BOMB_JOB = f"""
name: bomb
containers:
  app:
    image: {TOOLS_IMAGE}
    memory: 32M
    cpus: 0.5
    pids: 64
    command: ["sh", "-c", {json.dumps(BOMB_SCRIPT)}]
"""
BOMB_PIDS = 64

BUSY_SECONDS = 2


def exec_in(container_id: str, *command: str) -> str:
    return run("podman", "exec", container_id, *command).stdout


def first_file_in(container_id: str, *paths: str) -> str:
    """The content of the first of `paths` the container has (cgroup v1 or v2 layouts)."""
    for path in paths:
        result = run("podman", "exec", container_id, "cat", path, check=False)
        if result.returncode == 0:
            return result.stdout.strip()
    raise AssertionError(f"container {container_id[:12]} has none of {paths}")


def process_status(container_id: str) -> dict[str, str]:
    """/proc/1/status of the container: its main process, the spec's command."""
    lines = exec_in(container_id, "cat", "/proc/1/status").splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def cpu_limit(container_id: str) -> tuple[str, int]:
    """(quota, period) in µs of the container's CFS bandwidth; the quota is "max" if none."""
    result = run("podman", "exec", container_id, "cat", "/sys/fs/cgroup/cpu.max", check=False)
    if result.returncode == 0:  # cgroup v2
        quota, period = result.stdout.split()
        return quota, int(period)
    quota = first_file_in(container_id, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    period = first_file_in(container_id, "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    return ("max" if quota == "-1" else quota), int(period)


def cpu_stat(container_id: str) -> dict[str, int]:
    text = first_file_in(container_id, "/sys/fs/cgroup/cpu/cpu.stat", "/sys/fs/cgroup/cpu.stat")
    return {key: int(value) for key, value in (line.split() for line in text.splitlines())}


def cpu_seconds(container_id: str) -> float:
    """CPU time the container's cgroup has used."""
    result = run(
        "podman", "exec", container_id, "cat", "/sys/fs/cgroup/cpuacct/cpuacct.usage", check=False
    )
    if result.returncode == 0:  # cgroup v1: nanoseconds
        return int(result.stdout) / 1e9
    return cpu_stat(container_id)["usage_usec"] / 1e6


def host_cgroup_file(container_id: str, controller: str, name: str) -> Path:
    """A file of the container's cgroup, read from the host (a full cgroup refuses execs)."""
    cgroup = run("podman", "inspect", "--format", "{{.State.CgroupPath}}", container_id)
    path = cgroup.stdout.strip()
    # cgroup v1 has one hierarchy per controller, v2 one for all.
    for root in (f"/sys/fs/cgroup/{controller}", "/sys/fs/cgroup"):
        candidate = Path(f"{root}{path}") / name
        if candidate.exists():
            return candidate
    raise AssertionError(f"no {name} for cgroup {path}")


def conmon_arguments(container_id: str) -> list[str]:
    pid = run("podman", "inspect", "--format", "{{.State.ConmonPid}}", container_id).stdout
    return Path(f"/proc/{pid.strip()}/cmdline").read_text().split("\0")


def test_containers_are_hardened_and_their_cpus_enforced(make_node: NodeFactory) -> None:
    node = make_node("harden-a")
    response = node.apply(HARDENED_JOB)
    assert response.status_code == 201, response.text
    node.wait_running("hardened", 1)
    app = app_container("hardened", 0)
    plain = app_container("hardened", 0, "plain")

    for container in (app, plain):
        status = process_status(container)
        assert status["NoNewPrivs"] == "1"
        effective = int(status["CapEff"], 16)
        assert not effective & (1 << CAP_NET_RAW)
        assert effective == sum(1 << CAPABILITY_BITS[name] for name in CAPABILITIES)
        # busybox ping needs a raw socket: without NET_RAW it can't even start.
        ping = run("podman", "exec", container, "ping", "-c1", "-W1", "127.0.0.1", check=False)
        assert ping.returncode != 0
        assert "permission denied" in (ping.stdout + ping.stderr).lower()
        pids = first_file_in(container, "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max")
        assert pids == "2048"
        conmon = conmon_arguments(container)
        assert conmon[conmon.index("--log-size-max") + 1] == str(LOG_SIZE)
        assert conmon[conmon.index("-l") + 1].startswith("k8s-file:")

    assert cpu_limit(app) == ("50000", 100_000)
    assert cpu_limit(plain)[0] == "max"

    # The quota is enforced: a busy loop gets about half a core, and is throttled.
    throttled_before, used_before = cpu_stat(app)["nr_throttled"], cpu_seconds(app)
    busy = run(
        "podman",
        "exec",
        app,
        "timeout",
        str(BUSY_SECONDS),
        "sh",
        "-c",
        "while :; do :; done",
        check=False,
    )
    assert busy.returncode != 0  # ended by timeout
    used = cpu_seconds(app) - used_before
    assert cpu_stat(app)["nr_throttled"] > throttled_before
    assert used < 0.75 * BUSY_SECONDS, f"{used:.2f}s of CPU in {BUSY_SECONDS}s under cpus: 0.5"


def test_a_fork_bomb_is_stopped_by_its_pids_limit_and_spares_the_node(
    make_node: NodeFactory,
) -> None:
    node = make_node("harden-b")
    assert node.apply(web_job("calm", 2)).status_code == 201
    node.wait_running("calm", 2)
    response = node.apply(BOMB_JOB)
    assert response.status_code == 201, response.text
    node.wait_running("bomb", 1)
    bomb = app_container("bomb", 0)

    assert host_cgroup_file(bomb, "pids", "pids.max").read_text().strip() == str(BOMB_PIDS)
    events = host_cgroup_file(bomb, "pids", "pids.events")
    current = host_cgroup_file(bomb, "pids", "pids.current")

    def limit_hit() -> bool:
        refused = int(events.read_text().split()[1])  # "max <forks refused>"
        return refused > 0 and int(current.read_text()) >= BOMB_PIDS - 2

    wait_until(limit_hit, timeout=30, what="the bomb to fill its pids limit")
    assert int(current.read_text()) <= BOMB_PIDS

    # While the bomb's cgroup is full, the node answers at once and nothing else suffers.
    for _ in range(10):
        started = time.monotonic()
        assert httpx.get(f"{node.api}/v1/health", timeout=2).status_code == 200
        assert time.monotonic() - started < 1.0
        time.sleep(0.2)
    for item in node.instances("calm") + node.instances("bomb"):
        assert (item["state"], item["restarts"]) == ("running", 0), item
    for index in (0, 1):
        calm = app_container("calm", index)
        assert exec_in(calm, "wget", "-qO-", "http://127.0.0.1:3000/healthcheck") == "ok\n"

    # A full cgroup still stops promptly: PID 1 exits on SIGTERM and takes the rest along.
    assert node.request("DELETE", "/v1/jobs/bomb").status_code == 200
    wait_until(lambda: not containers_with_label("ozy.job=bomb"), timeout=30, what="the bomb gone")
    assert len(node.wait_running("calm", 2)) == 2
