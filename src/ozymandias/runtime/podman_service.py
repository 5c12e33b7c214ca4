"""The `podman system service` child process the adapter talks to.

The service is tied to the daemon: it gets SIGTERM when the daemon dies, even
by SIGKILL (PR_SET_PDEATHSIG). Containers are unaffected: each one is owned by
its conmon process, which podman detaches, so they outlive the daemon and the
service, and a restarted daemon adopts them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
from pathlib import Path

from ozymandias.child_process import die_with_parent, stop_child
from ozymandias.runtime.models import RuntimeUnavailable

log = logging.getLogger(__name__)

_STOP_GRACE_SECONDS = 5.0
_STDERR_LINES_KEPT = 20


class PodmanService:
    def __init__(self, socket_path: Path, podman_binary: str, env: dict[str, str] | None) -> None:
        self.socket_path = socket_path
        self._podman_binary = podman_binary
        self._env = {**os.environ, **(env or {})}
        self._process: asyncio.subprocess.Process | None = None
        self._stderr_drain: asyncio.Task[None] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def describe_failure(self) -> str:
        """Why the service is not answering, for error messages."""
        if self._process is None:
            return "podman service not started"
        status = (
            "running"
            if self._process.returncode is None
            else f"exited with status {self._process.returncode}"
        )
        tail = " | ".join(self._stderr_tail)
        return f"podman service (pid {self._process.pid}) {status}" + (
            f"; stderr: {tail}" if tail else ""
        )

    async def spawn(self) -> None:
        """Starts a fresh service on the socket, ending a leftover one of ours first."""
        await self._stop_leftover_service()
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self._stderr_tail.clear()
        try:
            self._process = await asyncio.create_subprocess_exec(
                self._podman_binary,
                "system",
                "service",
                "--time=0",
                f"unix://{self.socket_path}",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=self._env,
                # conmon writes files such as `oom` into its working directory,
                # which it inherits from the service: keep them out of the caller's.
                cwd=self.socket_path.parent,
                # Own session: a Ctrl-C meant for the daemon must not kill the
                # service under it while the daemon shuts down cleanly.
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )
        except OSError as error:
            raise RuntimeUnavailable(f"cannot run {self._podman_binary}: {error}") from error
        self._stderr_drain = asyncio.create_task(self._drain_stderr(self._process))

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            await stop_child(process, _STOP_GRACE_SECONDS)
        if self._stderr_drain is not None:
            await self._stderr_drain
            self._stderr_drain = None
        self.socket_path.unlink(missing_ok=True)

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        # Reading is required anyway (a full pipe would block podman); keep the
        # last lines to explain a failure to start.
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr_tail.append(line)
            log.warning("podman service: %s", line)

    async def _stop_leftover_service(self) -> None:
        """Ends a `podman system service` still serving our socket, e.g. one that
        outlived a previous daemon. Anything else on the socket is an error."""
        pid = await _socket_owner(self.socket_path)
        if pid is None:
            return
        command = _command_line(pid)
        if "system service" not in command or str(self.socket_path) not in command:
            raise RuntimeUnavailable(f"{self.socket_path} is served by pid {pid}: {command!r}")
        log.warning("stopping leftover podman service (pid %d) on %s", pid, self.socket_path)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            for _ in range(int(_STOP_GRACE_SECONDS / 0.05)):
                await asyncio.sleep(0.05)
                os.kill(pid, 0)
            os.kill(pid, signal.SIGKILL)


async def _socket_owner(path: Path) -> int | None:
    """The pid of the process listening on a unix socket, None if nobody is."""
    try:
        _, writer = await asyncio.open_unix_connection(path)
    except OSError:
        return None
    try:
        peer: socket.socket = writer.get_extra_info("socket")
        credentials = peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid: int = struct.unpack("3i", credentials)[0]
        return pid
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
