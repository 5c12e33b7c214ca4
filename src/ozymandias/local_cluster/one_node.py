"""`ozy up` and `ozy down`: a one-node cluster with an embedded etcd on this host.

`ozy up` runs etcd and a node daemon until stopped. `ozy up --detach` starts
that same process in the background, waits until its API answers, and
records its pid so `ozy down` can stop it. Both are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvloop

from ozymandias.acl.roles import Role
from ozymandias.acl.tokens import make_token, new_secret
from ozymandias.api.auth import HEALTH_PATH
from ozymandias.client_config import find_token, token_file, write_token_file
from ozymandias.daemon_lock import DirectoryInUse, DirectoryLock, lock_holder
from ozymandias.local_cluster.embedded_etcd import EmbeddedEtcd
from ozymandias.network.subnets import DEFAULT_CLUSTER_CIDR
from ozymandias.node import NodeDaemon
from ozymandias.node_config import NodeConfig, default_data_root
from ozymandias.secrets.keyring import write_new_key_file
from ozymandias.store.acl_store import AclStore
from ozymandias.store.etcd import Etcd
from ozymandias.volumes.local_disk import LocalDisks

log = logging.getLogger(__name__)


@dataclass
class LocalClusterConfig:
    data_root: Path = field(default_factory=default_data_root)
    etcd: str | None = None  # an existing etcd to use instead of the embedded one
    etcd_port: int = 2379
    api_port: int = 7070
    kube_port: int = 6443  # the Kubernetes API, on 127.0.0.1; 0: none
    # Not 80: a laptop's port 80 is often taken, and http://<job>.localhost:8080/ reads fine.
    ingress_port: int = 8080
    node_name: str = field(default_factory=lambda: socket.gethostname().split(".")[0].lower())
    pod_subnet: str | None = None  # None: the node leases one, avoiding what the host uses
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    log_format: str = "text"  # the daemon's --log-format, passed on by --detach

    @property
    def pid_file(self) -> Path:
        return self.data_root / "up.pid"

    @property
    def secrets_key_file(self) -> Path:
        return self.data_root / "secrets.key"

    @property
    def log_file(self) -> Path:
        return self.data_root / "up.log"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


async def run_foreground(config: LocalClusterConfig) -> None:
    """Run etcd (unless an external one is given) and one node daemon until SIGTERM/SIGINT."""
    lock = DirectoryLock(config.data_root)
    try:
        lock.acquire()
    except DirectoryInUse as error:
        # Checked before etcd or the node start: they would take the running
        # cluster's ports and podman service down with them.
        raise SystemExit(already_running(config, error.holder)) from None
    try:
        await _run_etcd_and_node(config)
    finally:
        lock.release()


def already_running(config: LocalClusterConfig, pid: int | None) -> str:
    by = f" (pid {pid})" if pid is not None else ""
    return (
        f"cluster already running{by} with data in {config.data_root}; "
        "`ozy down` stops it, or give --data-dir and other ports for a second one"
    )


async def _run_etcd_and_node(config: LocalClusterConfig) -> None:
    embedded: EmbeddedEtcd | None = None
    etcd_url = config.etcd
    if etcd_url is None:
        embedded = EmbeddedEtcd(
            config.data_root / "etcd", client_port=config.etcd_port, peer_port=config.etcd_port + 1
        )
        await embedded.start()
        etcd_url = embedded.client_url
        log.info("embedded etcd is up on %s (data in %s)", etcd_url, embedded.data_dir)
    await _bootstrap(etcd_url)
    # One node is its own zone: a plain directory serves as its shared storage.
    shared_storage = config.data_root / "shared-storage"
    shared_storage.mkdir(exist_ok=True)
    # The cluster's secrets key, made once (mode 0600) and kept with its etcd data.
    with contextlib.suppress(FileExistsError):
        key_id = write_new_key_file(config.secrets_key_file)
        log.info("made secrets key %s in %s", key_id, config.secrets_key_file)
    try:
        node = NodeDaemon(
            NodeConfig(
                name=config.node_name,
                etcd=etcd_url,
                api_port=config.api_port,
                kube_port=config.kube_port,
                data_dir=config.data_root / "nodes" / config.node_name,
                ingress_port=config.ingress_port,
                shared_storage=shared_storage,
                secrets_key_file=config.secrets_key_file,
                # The same instances come back here: `ozy down --volumes` removes them.
                keep_local_volumes=True,
                pod_subnet=config.pod_subnet,
                cluster_cidr=config.cluster_cidr,
            )
        )
        await node.run()
    finally:
        if embedded is not None:
            embedded.stop()


async def _bootstrap(etcd_url: str) -> None:
    """Make the cluster's first admin token and save it where the CLI looks, before the API answers.

    So `ozy up` then `ozy apply` works with no token step, as Nomad's
    `-dev` agent does. A cluster bootstrapped before (this is a restart)
    keeps its tokens, and the token file written then.
    """
    secret = new_secret()
    token = make_token("bootstrap", Role.ADMIN, secret)
    etcd = Etcd(etcd_url)
    try:
        made = await AclStore(etcd).bootstrap(token)
    finally:
        await etcd.close()
    if made is None:
        if find_token() is None:
            log.warning(
                "this cluster was bootstrapped before, and no token is set for this user "
                "(%s): pass --token or set OZY_TOKEN to use it",
                token_file(),
            )
        return
    kept = write_token_file(secret)
    log.info("made the cluster's first admin token; its secret is in %s", token_file())
    if kept is not None:
        log.info("the token file that was there is kept as %s", kept)


def running_pid(config: LocalClusterConfig) -> int | None:
    """The pid of a detached `ozy up` that is still alive, if any."""
    try:
        pid = int(config.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def api_answers(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}{HEALTH_PATH}", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_detached(
    config: LocalClusterConfig, progress: Callable[[str], None], timeout: float = 90.0
) -> bool:
    """Start `ozy up` in the background; False if it was already running."""
    if running_pid(config) is not None:
        return False
    config.data_root.mkdir(parents=True, exist_ok=True)
    holder = lock_holder(config.data_root)
    if holder is not None:
        # A foreground `ozy up` (no pid file) holds this data dir.
        raise RuntimeError(already_running(config, holder))
    command = [
        sys.executable,
        "-m",
        "ozymandias.cli.main",
        "up",
        "--data-dir",
        str(config.data_root),
        "--api-port",
        str(config.api_port),
        "--kube-port",
        str(config.kube_port),
        "--etcd-port",
        str(config.etcd_port),
        "--ingress-port",
        str(config.ingress_port),
        "--name",
        config.node_name,
        "--cluster-cidr",
        config.cluster_cidr,
        "--log-format",
        config.log_format,
    ]
    if config.etcd:
        command += ["--etcd", config.etcd]
    if config.pod_subnet:
        command += ["--pod-subnet", config.pod_subnet]
    with config.log_file.open("ab") as log_output:
        log_start = log_output.tell()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    config.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    progress(f"starting etcd and node {config.node_name} (log: {config.log_file})")
    while not api_answers(config.api_url):
        if process.poll() is not None:
            config.pid_file.unlink(missing_ok=True)
            reason = last_line(config.log_file, log_start) or f"exit code {process.returncode}"
            raise RuntimeError(f"ozy up failed: {reason} (log: {config.log_file})")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the API did not answer on {config.api_url} within {timeout:.0f}s; "
                f"see {config.log_file}"
            )
        time.sleep(0.2)
    return True


def last_line(log_file: Path, start: int, limit: int = 300) -> str:
    """The last line written to `log_file` after byte `start`: a daemon that exits says why
    last (SystemExit's message, or a traceback's final line)."""
    try:
        with log_file.open("rb") as log:
            log.seek(start)
            lines = log.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    line = next((line.strip() for line in reversed(lines) if line.strip()), "")
    line = _message_of(line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _message_of(line: str) -> str:
    """A log line's message: with --log-format json, the `msg` of its object."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return line
    return str(parsed["msg"]) if isinstance(parsed, dict) and "msg" in parsed else line


def stop_detached(
    config: LocalClusterConfig, progress: Callable[[str], None], timeout: float = 60.0
) -> bool:
    """Stop a detached `ozy up`; False if none was running."""
    pid = running_pid(config)
    if pid is None:
        config.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    progress(f"stopping pods, node and etcd (pid {pid})")
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            progress(f"pid {pid} did not stop within {timeout:.0f}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.2)
    config.pid_file.unlink(missing_ok=True)
    return True


def remove_local_volumes(config: LocalClusterConfig) -> int:
    """Remove the local volumes `ozy down` kept (`ozy down --volumes`); returns how many
    instances had some. Refuses (RuntimeError) while a cluster holds the data dir."""
    holder = lock_holder(config.data_root)
    if holder is not None:
        raise RuntimeError(already_running(config, holder))
    removed = 0
    for node_dir in sorted((config.data_root / "nodes").glob("*")):
        disks = LocalDisks(node_dir / "local-volumes")
        removed += len(disks.instances())
        asyncio.run(disks.remove_all())
    return removed


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def run_in_foreground(config: LocalClusterConfig) -> None:
    uvloop.run(run_foreground(config))  # as `ozy node run` runs: see cli/node_run.py
