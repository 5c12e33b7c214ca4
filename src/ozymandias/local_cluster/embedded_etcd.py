"""Debian's etcd binary, run as a child process for a one-node cluster (`ozy up`).

It listens on loopback only. The child is told to die with its parent, so a
crashed `ozy up` never leaves an orphaned etcd behind.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from pathlib import Path

from ozymandias.child_process import die_with_parent
from ozymandias.store.etcd import Etcd, StoreUnavailable

log = logging.getLogger(__name__)

# Large enough for one commit that touches the allocation totals of every
# node a big job spreads over (etcd's default is 128 operations).
MAX_TXN_OPS = 20_000


class EmbeddedEtcd:
    def __init__(self, data_dir: Path, *, client_port: int = 2379, peer_port: int = 2380) -> None:
        self.data_dir = data_dir
        self.client_url = f"http://127.0.0.1:{client_port}"
        self.peer_url = f"http://127.0.0.1:{peer_port}"
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self, *, wait_seconds: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = self._spawn()
        await self._wait_until_answering(wait_seconds)

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = shutil.which("etcd") or "/usr/bin/etcd"
        with (self.data_dir.parent / "etcd.log").open("ab") as log_file:
            return subprocess.Popen(
                [
                    binary,
                    "--name", "ozy",
                    "--data-dir", str(self.data_dir),
                    "--listen-client-urls", self.client_url,
                    "--advertise-client-urls", self.client_url,
                    "--listen-peer-urls", self.peer_url,
                    "--initial-advertise-peer-urls", self.peer_url,
                    "--initial-cluster", f"ozy={self.peer_url}",
                    "--max-txn-ops", str(MAX_TXN_OPS),
                    "--auto-compaction-retention", "1",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own process group: a terminal's Ctrl-C reaches `ozy up` alone, which
                # stops the node first (it gives its lease back) and etcd last.
                preexec_fn=die_with_parent(os.getpid(), own_process_group=True),
            )  # fmt: skip

    async def _wait_until_answering(self, wait_seconds: float) -> None:
        client = Etcd(self.client_url, timeout=2)
        deadline = asyncio.get_running_loop().time() + wait_seconds
        try:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(
                        f"etcd exited with code {self._process.returncode}; "
                        f"see {self.data_dir.parent / 'etcd.log'}"
                    )
                try:
                    await client.get(b"/ozy/")
                    return
                except StoreUnavailable:
                    if asyncio.get_running_loop().time() > deadline:
                        raise RuntimeError(f"etcd did not answer on {self.client_url}") from None
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
