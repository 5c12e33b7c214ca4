"""etcd for tests: reads and wipes through etcdctl, and a throwaway server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.auth import TEST_ADMIN
from tests.support.machine import free_port
from tests.support.waiting import wait_until


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

    def node_lease(self, name: str) -> int:
        """The lease node `name`'s record is held under."""
        out = self.etcdctl("get", f"/ozy/nodes/{name}", "-w", "json").stdout
        return int(json.loads(out)["kvs"][0]["lease"])

    def wipe(self) -> None:
        """Delete the cluster state, all but the tokens and the peers' credential (`/ozy/acl/`).

        Nodes of the next test find the test admin token still there, and a
        node still running keeps the peer credential it read at start.
        """
        self.etcdctl("del", "/ozy/", "/ozy/acl/")
        self.etcdctl("del", "/ozy/acl0", "/ozy0")  # "0" sorts right after "/"

    def grant_test_admin(self) -> None:
        """Store the test admin token and the bootstrap marker, as a bootstrap would."""
        self.etcdctl("put", f"/ozy/acl/tokens/{TEST_ADMIN.accessor}", TEST_ADMIN.to_json().decode())
        self.etcdctl("put", "/ozy/acl/bootstrap", "0")


class EtcdServer(EtcdctlReads):
    """A throwaway etcd on loopback, in its own data dir, holding the test admin token unless
    told not to (a test of the bootstrap itself)."""

    def __init__(self, data_dir: Path, *, grant_test_admin: bool = True) -> None:
        self.data_dir = data_dir
        self._grant_test_admin = grant_test_admin
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
        if self._grant_test_admin:  # so the nodes that tests and benchmarks start can be called
            self.grant_test_admin()

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
