"""Real processes for integration tests: an etcd server and `ozy node` daemons.

Everything here starts real binaries and cleans them up; nothing is faked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ozymandias.network.firewall import Chains

REPO = Path(__file__).resolve().parents[2]
CLUSTER_CIDR = "10.213.0.0/16"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


def run(*command: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=timeout)


class EtcdctlReads:
    """Reads and wipes through etcdctl, for any etcd a test runs (one server or a cluster)."""

    def etcdctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        raise NotImplementedError

    def keys(self, prefix: str) -> list[str]:
        out = self.etcdctl("get", "--prefix", "--keys-only", prefix).stdout
        return [line for line in out.splitlines() if line]

    def get_json(self, key: str) -> Any:
        out = self.etcdctl("get", "--print-value-only", key).stdout.strip()
        return json.loads(out) if out else None

    def wipe(self) -> None:
        self.etcdctl("del", "--prefix", "/ozy/")


class EtcdServer(EtcdctlReads):
    """A throwaway etcd on loopback, in its own data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.client_port = free_port()
        self.peer_port = free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        log = (self.data_dir.parent / "etcd.log").open("wb")
        self._process = subprocess.Popen(
            [
                "etcd",
                "--name",
                "test",
                "--data-dir",
                str(self.data_dir),
                "--listen-client-urls",
                self.url,
                "--advertise-client-urls",
                self.url,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"test={peer}",
                "--max-txn-ops",
                "20000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._answers, timeout=30, what=f"etcd on {self.url}")

    def _answers(self) -> bool:
        return self.etcdctl("endpoint", "health", check=False).returncode == 0

    def etcdctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["etcdctl", "--endpoints", self.url, *arguments],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@dataclass
class NodeProcess:
    """One `ozy node` daemon, run as a real subprocess so it can be killed for real."""

    name: str
    etcd_url: str
    work_dir: Path
    pod_subnet: str
    memory: str = "2G"
    disk: str = "10G"
    lease_ttl: int = 15
    labels: str = ""
    extra_args: tuple[str, ...] = ()  # further `ozy node` options, e.g. --shared-storage DIR
    # DEBUG tells a failing test's story; benchmarks run the node as users do (INFO).
    log_level: str = "DEBUG"
    api_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)
    ingress_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"{self.name}.log"

    def start(self, *, wait: bool = True) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ozymandias.cli.main",
                "node",
                "--name",
                self.name,
                "--etcd",
                self.etcd_url,
                "--api-port",
                str(self.api_port),
                "--data-dir",
                str(self.work_dir / self.name),
                "--memory",
                self.memory,
                "--disk",
                self.disk,
                "--lease-ttl",
                str(self.lease_ttl),
                "--pod-subnet",
                self.pod_subnet,
                "--cluster-cidr",
                CLUSTER_CIDR,
                "--labels",
                self.labels,
                "--dns-port",
                str(self.dns_port),
                "--ingress-port",
                str(self.ingress_port),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "OZY_LOG_LEVEL": self.log_level},
        )
        log.close()
        if wait:
            wait_until(self.answers, timeout=60, what=f"node {self.name}'s API ({self.log_path})")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"node {self.name} exited with {self.process.returncode}: {self.log_tail()}"
            )
        try:
            return httpx.get(f"{self.api}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def known_nodes(self) -> set[str]:
        """The nodes this node knows of, from its own API."""
        try:
            return {item["name"] for item in self.request("GET", "/v1/nodes").json()}
        except httpx.HTTPError:
            return set()

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 60) -> None:
        """Graceful stop: the node stops its pods and revokes its lease."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # API helpers

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.api}{path}", timeout=60, **kwargs)

    def apply(self, spec_yaml: str) -> httpx.Response:
        import yaml

        name = yaml.safe_load(spec_yaml)["name"]
        return self.request(
            "PUT",
            f"/v1/jobs/{name}",
            content=spec_yaml,
            headers={"content-type": "application/yaml"},
        )

    def instances(self, job: str) -> list[dict[str, Any]]:
        response = self.request("GET", "/v1/instances", params={"job": job})
        response.raise_for_status()
        return list(response.json())

    def wait_running(self, job: str, count: int, timeout: float = 90) -> list[dict[str, Any]]:
        def all_running() -> list[dict[str, Any]] | None:
            items = self.instances(job)
            if len(items) == count and all(item["state"] == "running" for item in items):
                return items
            return None

        return list(
            wait_until(all_running, timeout=timeout, what=f"{count} running instances of {job}")
        )


def podman_json(*arguments: str) -> Any:
    return json.loads(run("podman", *arguments).stdout or "[]")


def containers_with_label(label: str) -> list[dict[str, Any]]:
    return list(podman_json("ps", "-a", "--format", "json", "--filter", f"label={label}"))


def app_container(job: str, index: int, container: str = "app") -> str:
    """The id of one container of an instance, its running one if it has one."""
    found = [
        item
        for item in containers_with_label(f"ozy.job={job}")
        if (item["Labels"] or {}).get("ozy.index") == str(index)
        and (item["Labels"] or {}).get("ozy.container") == container
    ]
    found.sort(key=lambda item: item["State"] != "running")
    if not found:
        raise AssertionError(f"no {container} container for {job}-{index}")
    return str(found[0]["Id"])


def pods_with_label(label: str) -> list[dict[str, Any]]:
    return list(podman_json("pod", "ps", "--format", "json", "--filter", f"label={label}"))


# Mounts and loop devices (local volumes a killed node left behind)


def mounts() -> dict[str, str]:
    """Mountpoint -> file system type, from /proc/self/mountinfo."""
    mounts = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        for line in file:
            before, _, after = line.partition(" - ")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), before.split(" ")[4])
            mounts[point] = after.split(" ")[0]
    return mounts


def loop_backing_files() -> dict[str, str]:
    """Loop device -> backing file, from `losetup -a`."""
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=True).stdout
    devices = {}
    for line in out.splitlines():
        match = re.match(r"(/dev/loop\d+): .*\((.*)\)$", line)
        if match:
            devices[match[1]] = match[2].removesuffix(" (deleted)")
    return devices


def loops_under(path: Path) -> list[str]:
    return [
        device
        for device, backing in loop_backing_files().items()
        if backing.startswith(str(path) + "/")
    ]


def mounted_under(path: Path) -> list[str]:
    return [point for point in mounts() if point.startswith(str(path) + "/")]


def unmount_everything_under(directory: Path) -> None:
    """Unmount and detach whatever is left under `directory`."""
    directory = directory.resolve()
    # Innermost first, so a stacked or nested mount never blocks its parent.
    for point in sorted(mounted_under(directory), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
    for device in loops_under(directory):
        subprocess.run(["losetup", "-d", device], check=False)


def remove_everything_of_node(node_name: str) -> None:
    """Last-resort cleanup of a node's pods, containers and network."""
    for pod in pods_with_label(f"ozy.node={node_name}"):
        run("podman", "pod", "rm", "-f", "-t", "0", pod["Name"], check=False)
    for container in containers_with_label(f"ozy.node={node_name}"):
        run("podman", "rm", "-f", "-t", "0", container["Id"], check=False)
    run("podman", "network", "rm", "-f", f"ozy-{node_name}", check=False)
    remove_chains_of_node(node_name)
    # A killed node's sockets and HAProxy files (a stopped one removes its own).
    shutil.rmtree(Path("/run/ozymandias") / node_name, ignore_errors=True)


def remove_chains_of_node(node_name: str) -> None:
    """The iptables chains a killed node left in this namespace (a stopped one removes its own)."""
    chains = Chains.for_node(node_name)
    for table, builtin, chain in chains.jumps():
        unhook = ("iptables", "-w", "-t", table, "-D", builtin, "-j", chain)
        while run(*unhook, check=False).returncode == 0:
            pass
    for table, chain in (("nat", chains.dnat), ("nat", chains.nomasq), ("filter", chains.filter)):
        run("iptables", "-w", "-t", table, "-F", chain, check=False)
        run("iptables", "-w", "-t", table, "-X", chain, check=False)


@contextlib.contextmanager
def blackholed(cidr: str) -> Iterator[None]:
    """Blackhole `cidr` in the root namespace for the duration (unless it already is)."""
    existing = run("ip", "route", "show", "type", "blackhole", cidr).stdout.strip()
    if not existing:
        run("ip", "route", "add", "blackhole", cidr)
    try:
        yield
    finally:
        if not existing:
            run("ip", "route", "del", "blackhole", cidr, check=False)


def require_tools() -> None:
    missing = [tool for tool in ("podman", "etcd", "etcdctl", "ip") if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        raise RuntimeError(
            f"integration tests need root and {', '.join(missing) or 'the tools'}: "
            "run `make setup` first"
        )


def unused_pod_subnets(count: int, *, first: int = 200) -> list[str]:
    """`count` /24s of the cluster range, from 10.213.<first>.0 up, that no podman network uses.

    For tests that start nodes themselves: it keeps them clear of the
    `make_node` fixture's subnets and of networks left by another test session.
    """
    used = {
        subnet.get("subnet")
        for network in podman_json("network", "ls", "--format", "json")
        for subnet in network.get("subnets") or []
    }
    free = [f"10.213.{n}.0/24" for n in range(first, 255) if f"10.213.{n}.0/24" not in used]
    if len(free) < count:
        raise RuntimeError(f"fewer than {count} unused /24s in {CLUSTER_CIDR} from .{first}")
    return free[:count]


def running_spec_containers(job: str) -> list[dict[str, Any]]:
    """The job's running spec containers on every node (pods' infra containers left out)."""
    return [
        container
        for container in containers_with_label(f"ozy.job={job}")
        if "ozy.container" in (container["Labels"] or {}) and container["State"] == "running"
    ]
