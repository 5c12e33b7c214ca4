"""Which containers the kernel's OOM killer hit, read from the kernel's log.

Podman 4.3 with runc on cgroup v1 reports State.OOMKilled false even for a
container the kernel did kill for memory, and has no "oom" event; by the time
the container's exit is reported, its memory cgroup, with the `oom_kill`
counter of its memory.oom_control, is gone. The
kernel's log outlives both: for every OOM kill it names the killed process's
memory cgroup, which is the container's. So the log (/dev/kmsg, readable by
root) is followed from the runtime's start, and each exit asks whether such a
record named its container since the container last started.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ozymandias.runtime.kernel_log import oom_killed_container

log = logging.getLogger(__name__)

KMSG = Path("/dev/kmsg")
# The kernel never hands out a record longer than this (CONSOLE_EXT_LOG_MAX);
# a shorter read buffer would fail with EINVAL.
_RECORD_BYTES = 8192
# Containers seen killed whose exit has not been asked about yet (removed
# meanwhile, say): only the newest are kept, so the set cannot grow forever.
_REMEMBERED = 1024


class OomKills:
    """OOM kills of containers since `open`, as the kernel's log records them.

    Without the log (not root, or no /dev/kmsg), no kill is ever reported: an
    exit is then only its code, never a guess.
    """

    def __init__(self, path: Path = KMSG) -> None:
        self._path = path
        self._fd: int | None = None
        self._killed: dict[str, None] = {}  # ordered: the oldest first

    def open(self) -> None:
        """Start following the log from now; a missing or unreadable one is logged, once."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            log.warning("cannot read the kernel log (%s): OOM kills will not be reported", error)
            return
        # Earlier records are of containers this runtime did not start.
        os.lseek(fd, 0, os.SEEK_END)
        self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def killed(self, container_id: str) -> bool:
        """Whether the OOM killer killed a process of the container since it last started.

        Asked once per exit: the answer is consumed. The kernel logs the kill
        before the process dies, so the record is there by the time its exit is.
        """
        self._read_new_records()
        if container_id not in self._killed:
            return False
        del self._killed[container_id]
        return True

    def forget(self, container_id: str) -> None:
        """The container starts again: kills logged before now are not of this run."""
        self._read_new_records()
        self._killed.pop(container_id, None)

    def _read_new_records(self) -> None:
        # Non-blocking, one record per read, until none is left; cheap enough
        # to do on the event loop at each exit.
        while self._fd is not None:
            try:
                record = os.read(self._fd, _RECORD_BYTES)
            except BlockingIOError:
                return
            except BrokenPipeError:
                # The kernel overwrote records not read yet; reading goes on
                # from the oldest one left. A kill among them is lost.
                log.warning("kernel log records were overwritten before they were read")
                continue
            if not record:
                return
            if (container_id := oom_killed_container(record)) is not None:
                self._remember(container_id)

    def _remember(self, container_id: str) -> None:
        self._killed.pop(container_id, None)
        self._killed[container_id] = None
        while len(self._killed) > _REMEMBERED:
            del self._killed[next(iter(self._killed))]
