"""`ozy node run` daemons as real subprocesses, and the cleanup of what a killed node leaves behind.

Everything here starts real binaries and cleans them up; nothing is faked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ozymandias.network.firewall import Chains
from tests.support.auth import bearer
from tests.support.machine import CLUSTER_CIDR, free_port, run
from tests.support.podman import containers_with_label, podman_json, pods_with_label
from tests.support.waiting import wait_until


def idle_load(work_dir: Path, name: str) -> tuple[str, str]:
    """`--loadavg-file` of an idle host: placement among the test's nodes then depends on
    what the test does, not on this host's real load, which varies with whatever else runs
    (every node on one host would read the same /proc/loadavg, at different moments)."""
    path = work_dir / f"{name}.loadavg"
    path.write_text("0.00 0.00 0.00 1/1 1\n")
    return "--loadavg-file", str(path)


@dataclass
class NodeProcess:
    """One `ozy node run` daemon, run as a real subprocess so it can be killed for real."""

    name: str
    etcd_url: str
    work_dir: Path
    pod_subnet: str
    memory: str = "2G"
    disk: str = "10G"
    lease_ttl: int = 15
    labels: str = ""
    extra_args: tuple[str, ...] = ()  # further `ozy node run` options, e.g. --shared-storage DIR
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. a test hook's variable
    # DEBUG tells a failing test's story; benchmarks run the node as users do (INFO).
    log_level: str = "DEBUG"
    api_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)
    ingress_port: int = field(default_factory=free_port)
    kube_port: int = field(default_factory=free_port)  # the Kubernetes API's
    # Set when the node serves HTTPS (its --tls-* flags go in `extra_args`): what the
    # harness's own calls verify the node with and show it (see tests/support/tls.py).
    https: ssl.SSLContext | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        scheme = "https" if self.https is not None else "http"
        return f"{scheme}://127.0.0.1:{self.api_port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify` for this node's API."""
        return self.https if self.https is not None else True

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"{self.name}.log"

    def start(self, *, wait: bool = True) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        load = () if "--loadavg-file" in self.extra_args else idle_load(self.work_dir, self.name)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ozymandias.cli.main",
                "node",
                "run",
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
                "--kube-port",
                str(self.kube_port),
                *load,
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "OZY_LOG_LEVEL": self.log_level, **self.extra_env},
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
            health = httpx.get(f"{self.api}/v1/health", timeout=1, verify=self.verify)
            return health.status_code == 200
        except httpx.HTTPError:
            return False

    def known_nodes(self) -> set[str]:
        """The nodes this node knows of, from its own API."""
        try:
            return {item["name"] for item in self.request("GET", "/v1/nodes").json()}
        except httpx.HTTPError:
            return set()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the node's log, without DEBUG lines, which would hide the cause."""
        with contextlib.suppress(OSError):
            kept = [
                line for line in self.log_path.read_text().splitlines() if " DEBUG " not in line
            ]
            return "\n".join(kept[-lines:])
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
        kwargs.setdefault("timeout", 60)
        kwargs["headers"] = {**bearer(), **kwargs.get("headers", {})}
        return httpx.request(method, f"{self.api}{path}", verify=self.verify, **kwargs)

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


# What the `make_node` fixture gives a test: start(name, **NodeProcess options).
NodeFactory = Callable[..., NodeProcess]


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
    for table, chain in chains.owned():
        run("iptables", "-w", "-t", table, "-F", chain, check=False)
        run("iptables", "-w", "-t", table, "-X", chain, check=False)


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
