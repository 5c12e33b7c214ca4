"""etcd for tests: etcdctl reads and wipes, throwaway servers, and mirrors run for a block."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from ozymandias.store.mirror import Mirror
from ozymandias.tls.certificates import CA_CERT_FILE, create_ca, create_node_certificate
from ozymandias.tls.settings import EtcdSecurity
from tests.support.auth import TEST_ADMIN
from tests.support.machine import free_port
from tests.support.waiting import wait_until, within

T = TypeVar("T")


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


class SecureEtcdServer(EtcdServer):
    """A throwaway etcd that serves clients over TLS only, requires their certificates, and
    has etcd's auth on: `root`, and a user `ozy` whose role may read and write /ozy/ and
    /skydns/, as a node needs.

    Its CA, its own certificate and two client certificates (`node`, for code under test,
    and `etcdctl`) are made with `ozymandias.tls.certificates` in `certs`. Simple tokens
    live `auth_token_ttl` seconds after their last use; with `--logger zap`, etcd's log
    says when it drops one (`dropped_tokens`).
    """

    USER = "ozy"
    ROOT_PASSWORD = "root-secret"
    USER_PASSWORD = "ozy-secret"

    def __init__(self, data_dir: Path, certs: Path, *, auth_token_ttl: int = 300) -> None:
        super().__init__(data_dir)
        self.url = f"https://127.0.0.1:{self.client_port}"
        self.auth_token_ttl = auth_token_ttl
        self.certs = certs
        self.log_file = data_dir.parent / "etcd.log"
        create_ca(certs / "ca")
        self.ca = certs / "ca" / CA_CERT_FILE
        for name in ("etcd", "node", "etcdctl"):
            create_node_certificate(certs / "ca", name, certs)
        self.password_file = certs / "ozy-password"
        self.password_file.write_text(self.USER_PASSWORD + "\n")
        self._auth_on = False

    def cert(self, name: str) -> tuple[Path, Path]:
        return self.certs / f"{name}.pem", self.certs / f"{name}-key.pem"

    def security(self, *, password_file: Path | None = None) -> EtcdSecurity:
        """What a node under test is given: the CA, its client certificate, and user `ozy`."""
        cert, key = self.cert("node")
        return EtcdSecurity(
            cacert=self.ca,
            cert=cert,
            key=key,
            user=self.USER,
            password_file=password_file or self.password_file,
        )

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        cert, key = self.cert("etcd")
        log = self.log_file.open("wb")
        self._process = subprocess.Popen(
            [
                "etcd",
                "--name", "test",
                "--data-dir", str(self.data_dir),
                "--listen-client-urls", self.url,
                "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"test={peer}",
                "--max-txn-ops", "20000",
                "--cert-file", str(cert),
                "--key-file", str(key),
                "--trusted-ca-file", str(self.ca),
                "--client-cert-auth",
                "--auth-token-ttl", str(self.auth_token_ttl),
                "--bcrypt-cost", "4",  # etcd's least: tests log in often
                "--logger", "zap",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self._auth_on = False
        wait_until(self._answers, timeout=30, what=f"etcd on {self.url}")
        # Without a user, only an etcd whose auth is off lists its users; a
        # restart on the same data dir finds auth on already.
        if self.etcdctl("user", "list", check=False).returncode == 0:
            self._enable_auth()
        self._auth_on = True
        self.grant_test_admin()

    def _enable_auth(self) -> None:
        self.etcdctl("user", "add", f"root:{self.ROOT_PASSWORD}")
        self.etcdctl("user", "grant-role", "root", "root")
        self.etcdctl("role", "add", "node")
        for prefix in ("/ozy/", "/skydns/"):
            self.etcdctl("role", "grant-permission", "node", "--prefix=true", "readwrite", prefix)
        self.etcdctl("user", "add", f"{self.USER}:{self.USER_PASSWORD}")
        self.etcdctl("user", "grant-role", self.USER, "node")
        self.etcdctl("auth", "enable")

    def etcdctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cert, key = self.cert("etcdctl")
        tls = ["--cacert", str(self.ca), "--cert", str(cert), "--key", str(key)]
        # Before auth is on, --user is refused; after, it is needed.
        auth = ["--user", f"root:{self.ROOT_PASSWORD}"] if self._auth_on else []
        return subprocess.run(
            ["etcdctl", "--endpoints", self.url, *tls, *auth, *arguments],
            capture_output=True,
            text=True,
            check=check,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        )

    def dropped_tokens(self, user: str = "ozy") -> int:
        """How many of `user`'s simple tokens etcd has dropped as expired (its zap log says)."""
        return sum(
            '"deleted a simple token"' in line and f'"user-name":"{user}"' in line
            for line in self.log_file.read_text(errors="replace").splitlines()
        )


@contextlib.asynccontextmanager
async def running(mirror: Mirror[T]) -> AsyncIterator[Mirror[T]]:
    """Run a mirror for the duration of a block, once its first scan has loaded."""
    task = asyncio.create_task(mirror.run())
    try:
        await within(mirror.wait_synced(), f"the first scan of {mirror.prefix!r}")
        yield mirror
    finally:
        task.cancel()
        # Re-raises whatever made run() itself fail, if it did.
        with contextlib.suppress(asyncio.CancelledError):
            await task
