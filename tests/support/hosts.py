"""Several "hosts" on one machine, each a real sandbox with its own network, PIDs and podman.

A host is a network namespace (`ip netns add`) plus its own PID and mount
namespaces, entered with `nsenter --net=... unshare --pid --fork --mount-proc
--mount`. Inside, tmpfs hides the machine's runc, netavark and netns state,
and podman gets its own containers.conf and storage.conf (its own graphroot,
runroot, tmp dir and network config dir; the machine's images are shared
read-only as an additional image store). Each host's veth hangs on one bridge
in the root namespace, where the etcd members listen.

- Killing a host is `kill -9` of the sandbox's init: the node daemon, its
  podman service, conmon and every container die with it at once.
- Partitioning a host sets its veth down; healing sets it up again.
- Given the session's `TestPki`, a host serves its API over HTTPS with a
  certificate for its address, requires client certificates of the same CA,
  and so calls its peers over HTTPS, as nodes on a real network would.

Safety: the whole test range is blackholed in the root namespace before any
host exists, so no packet to a host that is not up leaves the machine through
the default gateway. `TestNetwork` and `Host.destroy` remove everything they
created, even after a failure.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.auth import bearer
from tests.support.etcd import EtcdctlReads
from tests.support.machine import CLUSTER_CIDR, run
from tests.support.nodes import idle_load
from tests.support.tls import TestPki
from tests.support.waiting import wait_until

TEST_RANGE = "10.214.0.0/16"  # blackholed while the hosts exist
HOST_PREFIX_LENGTH = 24
BRIDGE = "ozymh0"
BRIDGE_ADDRESS = "10.214.0.1"  # the root namespace's side: etcd listens here
NAME_PREFIX = "ozymh"  # every netns and link the harness creates starts with it
API_PORT = 7070
HOST_NAME_PREFIX = "h"  # hosts are h1, h2, ...
ROOT_IMAGE_STORE = "/var/lib/containers/storage"

# The machine-wide podman settings this kind of host needs (see setup/setup.sh);
# a host's CONTAINERS_CONF replaces them, so they are repeated here.
_CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 1
tmp_dir = "{dir}/libpod-tmp"
volume_path = "{dir}/volumes"

[network]
network_config_dir = "{dir}/networks"
"""

_STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{dir}/storage"
runroot = "{dir}/run"

[storage.options]
additionalimagestores = ["{images}"]
"""

# State of the machine's runc, netavark and named netns that a sandbox must
# not see (and must not write to): each host gets a private tmpfs there.
# /dev/shm holds podman's lock segment (libpod_lock): shared, a killed host's
# containers would keep their locks forever, and after a few test runs the
# machine's podman could create nothing ("exceeded num_locks").
_PRIVATE_RUN_DIRS = ("/run/runc", "/run/containers/networks", "/run/netns", "/dev/shm")


def ip(*arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ip", *arguments, check=check)


class TestNetwork:
    """The blackholed test range and the bridge the hosts and etcd share."""

    def __enter__(self) -> TestNetwork:
        # The bridge is the session's: one that exists belongs to another
        # session still running, which must be left alone (not cleaned up).
        if ip("link", "show", BRIDGE, check=False).returncode == 0:
            raise RuntimeError(
                f"{BRIDGE} exists: another multi-host session is running (or one crashed: "
                f"`ip link del {BRIDGE}` once none runs)"
            )
        # The blackhole first, always: routes for the bridge's /24 are more
        # specific, and anything else in the range must go nowhere.
        ip("route", "replace", "blackhole", TEST_RANGE)
        try:
            ip("link", "add", BRIDGE, "type", "bridge")
        except BaseException:
            # Lost a race with another session for the bridge: leave its network alone.
            raise RuntimeError(f"another multi-host session created {BRIDGE} meanwhile") from None
        try:
            ip("addr", "add", f"{BRIDGE_ADDRESS}/{HOST_PREFIX_LENGTH}", "dev", BRIDGE)
            ip("link", "set", BRIDGE, "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        ip("link", "del", BRIDGE, check=False)
        ip("route", "del", "blackhole", TEST_RANGE, check=False)


@dataclass
class EtcdMember:
    name: str
    client_url: str
    peer_url: str
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None


class EtcdCluster(EtcdctlReads):
    """One to three etcd members on the bridge address, each with its own ports and data."""

    def __init__(self, work_dir: Path, members: int = 3, first_port: int = 23790) -> None:
        self.members = [
            EtcdMember(
                name=f"m{i}",
                client_url=f"http://{BRIDGE_ADDRESS}:{first_port + 2 * i}",
                peer_url=f"http://{BRIDGE_ADDRESS}:{first_port + 2 * i + 1}",
                data_dir=work_dir / f"m{i}",
            )
            for i in range(members)
        ]
        self.work_dir = work_dir

    @property
    def endpoints(self) -> str:
        """Every member's client URL, joined by "," as `ozy node run --etcd` takes them."""
        return ",".join(member.client_url for member in self.members)

    def start(self) -> None:
        """Start every member that is not running, and wait for the cluster to be healthy."""
        for member in self.members:
            if not _alive(member.process):
                self.start_member(member)
        wait_until(self.healthy, timeout=30, what="etcd cluster health")

    def start_member(self, member: EtcdMember) -> None:
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        log = (self.work_dir / f"{member.name}.log").open("ab")
        member.process = subprocess.Popen(
            [
                "etcd",
                "--name",
                member.name,
                "--data-dir",
                str(member.data_dir),
                "--listen-client-urls",
                member.client_url,
                "--advertise-client-urls",
                member.client_url,
                "--listen-peer-urls",
                member.peer_url,
                "--initial-advertise-peer-urls",
                member.peer_url,
                "--initial-cluster",
                initial,
                "--initial-cluster-token",
                "ozymh",
                "--max-txn-ops",
                "20000",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def kill_member(self, member: EtcdMember) -> None:
        if member.process is not None and member.process.poll() is None:
            member.process.kill()
            member.process.wait()

    def stop(self) -> None:
        """Stop every member (their data stays, so `start` brings the same cluster back)."""
        for member in self.members:
            self.kill_member(member)

    def healthy(self) -> bool:
        urls = ",".join(m.client_url for m in self.members if _alive(m.process))
        if not urls:
            return False
        return self.etcdctl("--endpoints", urls, "endpoint", "health", check=False).returncode == 0

    def etcdctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        live = ",".join(m.client_url for m in self.members if _alive(m.process))
        endpoints = [] if "--endpoints" in arguments else ["--endpoints", live]
        return subprocess.run(
            ["etcdctl", "--dial-timeout", "2s", *endpoints, *arguments],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        )


def _alive(process: subprocess.Popen[bytes] | None) -> bool:
    return process is not None and process.poll() is None


# A "drop" partition: every packet in or out of the host's link, its pods' included. In the
# mangle table, which neither the node nor netavark touch, so no rule of theirs comes first.
_DROP_RULES = (
    ("PREROUTING", "-i", "eth0", "-j", "DROP"),
    ("POSTROUTING", "-o", "eth0", "-j", "DROP"),
)


@dataclass
class Host:
    """One sandboxed machine running one `ozy node run` daemon."""

    name: str
    index: int  # 1..200: picks the host's address, MAC, veth and pod subnet
    work_dir: Path
    etcd_endpoints: str
    memory: str = "1G"
    disk: str = "10G"
    lease_ttl: int = 5
    fence_after: float | None = None
    labels: str = ""
    # False: the fixed subnet `pod_subnet` (--pod-subnet); True: leased from etcd.
    lease_subnet: bool = False
    network_backend: str = "host-gw"
    extra_args: tuple[str, ...] = ()  # further `ozy node run` options, e.g. --shared-storage DIR
    # The cluster CA: the API over HTTPS, client certificates required. None: plain HTTP
    # on the hosts' bridge (--insecure-http), which only this machine can reach.
    pki: TestPki | None = None
    init_pid: int = 0
    _pidns: str = field(default="", repr=False)

    @property
    def address(self) -> str:
        return f"10.214.0.{10 + self.index}"

    @property
    def netns(self) -> str:
        return f"{NAME_PREFIX}-{self.name}"

    @property
    def veth(self) -> str:
        """The root namespace's end of the host's link (the host's end is its eth0)."""
        return f"{NAME_PREFIX}v{self.index}"

    @property
    def mac(self) -> str:
        # Fixed, so a re-created host does not fight stale ARP entries.
        return f"02:00:0a:d6:00:{10 + self.index:02x}"

    @property
    def pod_subnet(self) -> str:
        return f"10.213.{150 + self.index}.0/24"

    @property
    def api(self) -> str:
        scheme = "https" if self.pki is not None else "http"
        return f"{scheme}://{self.address}:{API_PORT}"

    @functools.cached_property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify` for the harness's calls: the CA, and a client certificate."""
        if self.pki is None:
            return True
        return self.pki.context(self.pki.certificate("harness"))

    def _api_security_flags(self) -> tuple[str, ...]:
        if self.pki is None:
            return ("--insecure-http",)
        certificate = self.pki.certificate(self.name, ips=(self.address,))
        return self.pki.node_flags(certificate, require_clients=True)

    @property
    def log_path(self) -> Path:
        # Beside the work dir, not in it: `destroy` removes the work dir, and
        # the log is what explains a failed test afterwards.
        return self.work_dir.with_name(f"{self.work_dir.name}-node.log")

    @property
    def podman_env(self) -> dict[str, str]:
        return {
            "CONTAINERS_CONF": str(self.work_dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.work_dir / "storage.conf"),
        }

    # Life cycle

    def create(self) -> None:
        """Network, podman configuration and the sandbox; then the node daemon is started."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "containers.conf").write_text(_CONTAINERS_CONF.format(dir=self.work_dir))
        (self.work_dir / "storage.conf").write_text(
            _STORAGE_CONF.format(dir=self.work_dir, images=ROOT_IMAGE_STORE)
        )
        self._create_network()
        self._start_sandbox()

    def _create_network(self) -> None:
        # A previous veth of this index vanishes asynchronously after its netns
        # went away; re-creating it before then fails.
        wait_until(
            lambda: ip("link", "show", self.veth, check=False).returncode != 0,
            timeout=10,
            what=f"the old {self.veth} to vanish",
        )
        inner = f"{NAME_PREFIX}p{self.index}"
        ip("netns", "add", self.netns)
        ip("link", "add", self.veth, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", self.netns)
        in_ns = ("-n", self.netns)
        ip(*in_ns, "link", "set", inner, "name", "eth0")
        ip(*in_ns, "link", "set", "eth0", "address", self.mac)
        ip(*in_ns, "addr", "add", f"{self.address}/{HOST_PREFIX_LENGTH}", "dev", "eth0")
        ip(*in_ns, "link", "set", "eth0", "up")
        ip(*in_ns, "link", "set", "lo", "up")
        ip("link", "set", self.veth, "master", BRIDGE)
        ip("link", "set", self.veth, "up")

    def _start_sandbox(self) -> None:
        ready = self.work_dir / "sandbox-ready"
        ready.unlink(missing_ok=True)
        for directory in _PRIVATE_RUN_DIRS:
            Path(directory).mkdir(parents=True, exist_ok=True)
        mounts = " && ".join(f"mount -t tmpfs tmpfs {d}" for d in _PRIVATE_RUN_DIRS)
        launcher = subprocess.Popen(
            [
                "nsenter",
                f"--net=/run/netns/{self.netns}",
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"{mounts} && touch {ready} && exec sleep infinity",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # The sandbox's init is unshare's child (PID 1 inside); unshare itself
        # just waits for it.
        children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
        wait_until(
            lambda: ready.exists() and children.read_text().split(),
            timeout=10,
            interval=0.02,
            what=f"sandbox of {self.name}",
        )
        self.init_pid = int(children.read_text().split()[0])
        self._pidns = os.readlink(f"/proc/{self.init_pid}/ns/pid")

    def in_sandbox(self, *command: str) -> list[str]:
        """`command` as run inside the host: its network, mount and PID namespaces."""
        return ["nsenter", "-t", str(self.init_pid), "-n", "-m", "-p", "--", *command]

    def start_daemon(self, *, wait: bool = True) -> None:
        command = [
            sys.executable,
            "-m",
            "ozymandias.cli.main",
            "node",
            "run",
            "--name",
            self.name,
            "--etcd",
            self.etcd_endpoints,
            "--address",
            self.address,
            "--api-host",
            "0.0.0.0",
            *self._api_security_flags(),
            "--api-port",
            str(API_PORT),
            "--data-dir",
            str(self.work_dir / "data"),
            "--memory",
            self.memory,
            "--disk",
            self.disk,
            "--lease-ttl",
            str(self.lease_ttl),
            "--cluster-cidr",
            CLUSTER_CIDR,
            "--network-backend",
            self.network_backend,
            "--labels",
            self.labels,
            *idle_load(self.work_dir, self.name),
        ]
        if not self.lease_subnet:
            command += ["--pod-subnet", self.pod_subnet]
        if self.fence_after is not None:
            command += ["--fence-after", str(self.fence_after)]
        command += self.extra_args
        with self.log_path.open("ab") as log:
            # setsid -f: detached, so a stopped or dying daemon can't wedge nsenter.
            subprocess.run(
                self.in_sandbox("setsid", "-f", *command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.podman_env},
                check=True,
                timeout=30,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        try:
            wait_until(self.answers, timeout=60, what=f"{self.name}'s API")
        except AssertionError as error:
            # The log goes with the host: quote it while it is there.
            raise AssertionError(f"{error}; its log ends:\n{self.log_tail()}") from None

    def daemon_pid(self) -> int | None:
        """The node daemon's PID (as the root namespace numbers it), if it runs."""
        for pid in self.pids():
            with contextlib.suppress(OSError):
                if b"ozymandias.cli.main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        return None

    def pids(self) -> list[int]:
        """Every process in the sandbox."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(entry / "ns" / "pid") == self._pidns:
                        found.append(int(entry.name))
        return found

    def kill_daemon(self) -> None:
        """kill -9 the node daemon alone: its containers live on under conmon."""
        pid = self.daemon_pid()
        assert pid is not None, f"{self.name} runs no daemon"
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.daemon_pid() is None, timeout=10, what=f"{self.name}'s daemon")

    def stop_daemon(self, timeout: float = 30) -> None:
        """SIGTERM: the daemon stops its pods and revokes its lease."""
        pid = self.daemon_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: self.daemon_pid() is None, timeout=timeout, what="daemon exit")

    def kill(self) -> None:
        """kill -9 the sandbox's init: everything of the host dies at once."""
        if self.init_pid and _process_exists(self.init_pid):
            os.kill(self.init_pid, signal.SIGKILL)
        wait_until(lambda: not self.pids(), timeout=10, interval=0.02, what=f"{self.name} to die")

    def partition(self, how: str = "link") -> None:
        """Cut the host off the network: its link goes down ("link"), or, as a
        firewall or a failing switch would, its packets vanish ("drop") and
        connections hang until they time out instead of failing at once.
        Dropped too: its pods' traffic (FORWARD), as it would be on a real host."""
        if how == "link":
            ip("link", "set", self.veth, "down")
        elif how == "drop":
            for rule in _DROP_RULES:
                result = self._iptables("-I", rule[0], "1", *rule[1:])
                assert result.returncode == 0, result.stderr
        else:
            raise ValueError(f"partition how? {how!r}")

    def heal(self) -> None:
        """Undo either kind of partition."""
        for rule in _DROP_RULES:
            while self._iptables("-C", *rule).returncode == 0:
                result = self._iptables("-D", *rule)
                assert result.returncode == 0, result.stderr
        ip("link", "set", self.veth, "up")

    def _iptables(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return run(
            "ip", "netns", "exec", self.netns, "iptables", "-w", "-t", "mangle", *arguments,
            check=False,
        )  # fmt: skip

    def destroy(self) -> None:
        """Remove everything of the host, whatever state it is in."""
        with contextlib.suppress(Exception):
            self.kill()
        ip("netns", "del", self.netns, check=False)
        ip("link", "del", self.veth, check=False)
        run("rm", "-rf", f"/run/ozymandias/{self.name}", check=False)
        run("rm", "-rf", str(self.work_dir), check=False)

    # Looking inside

    def answers(self) -> bool:
        try:
            health = httpx.get(f"{self.api}/v1/health", timeout=1, verify=self.verify)
            return health.status_code == 200
        except httpx.HTTPError:
            return False

    def podman(self, *arguments: str, timeout: float = 30) -> Any:
        """A podman command's JSON output, parsed."""
        return json.loads(self.podman_output(*arguments, timeout=timeout) or "[]")

    def podman_output(self, *arguments: str, timeout: float = 30) -> str:
        """A podman command's standard output, as run on this host."""
        result = subprocess.run(
            self.in_sandbox("podman", *arguments),
            capture_output=True,
            text=True,
            env={**os.environ, **self.podman_env},
            timeout=timeout,
            check=True,
        )
        return result.stdout

    def running_instances(self, job: str) -> dict[int, str]:
        """index -> container id of the job's running app containers on this host."""
        containers = self.podman(
            "ps",
            "--format",
            "json",
            "--filter",
            f"label=ozy.job={job}",
            "--filter",
            "status=running",
        )
        return {
            int(container["Labels"]["ozy.index"]): container["Id"]
            for container in containers
            if "ozy.container" in (container.get("Labels") or {})
        }

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""

    # API

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        kwargs["headers"] = {**bearer(), **kwargs.get("headers", {})}
        return httpx.request(method, f"{self.api}{path}", timeout=60, verify=self.verify, **kwargs)

    def apply(self, spec_yaml: str, job: str) -> None:
        response = self.request(
            "PUT",
            f"/v1/jobs/{job}",
            content=spec_yaml,
            headers={"content-type": "application/yaml"},
        )
        assert response.status_code in (200, 201), response.text


def _process_exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@contextlib.contextmanager
def hosts_removed_after(hosts: list[Host]) -> Iterator[list[Host]]:
    """Destroy every host in `hosts` (filled in by the caller) on the way out."""
    try:
        yield hosts
    finally:
        for host in hosts:
            host.destroy()


def leftovers() -> list[str]:
    """What the harness would have left on the machine: must be empty after a session."""
    found = [f"netns {n}" for n in ip("netns", "list").stdout.split() if n.startswith(NAME_PREFIX)]
    links = ip("-o", "link", "show").stdout
    found += [
        f"link {line.split(':')[1].strip()}"
        for line in links.splitlines()
        if line.split(":")[1].strip().startswith(NAME_PREFIX)
    ]
    if ip("route", "show", "type", "blackhole", TEST_RANGE).stdout.strip():
        found.append(f"blackhole {TEST_RANGE}")
    # Hosts keep their rules in their own netns: none may reach the machine's.
    rules = run("iptables", "-w", "-t", "nat", "-S").stdout + run("iptables", "-w", "-S").stdout
    ours = f"OZY-{HOST_NAME_PREFIX}"
    found += [f"iptables {line}" for line in rules.splitlines() if ours in line]
    return found


# What the `make_hosts` fixture gives a test: make(count, **Host options) -> the new hosts.
HostFactory = Callable[..., list[Host]]


def known_nodes(host: Host) -> set[str]:
    """The nodes `host` knows of, from its own API."""
    try:
        return {node["name"] for node in host.request("GET", "/v1/nodes").json()}
    except httpx.HTTPError:
        return set()
