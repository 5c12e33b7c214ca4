"""One daemon per directory: an exclusive `flock` held for the daemon's whole life.

A node's data dir and run dir (and `ozy up`'s data root) hold state that only
one live daemon may touch: its lease, its podman service's socket, its pods.
A second daemon started on them must refuse before it touches anything, or it
tears down the first one's service and pods. The lock is taken on the
directory itself, so no lock file is left behind, and the kernel drops it
when the process dies however it dies, so a crashed daemon never leaves a
stale lock. The holder's pid is read from /proc/locks for the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class DirectoryInUse(RuntimeError):
    """Another live process holds the directory's lock."""

    def __init__(self, directory: Path, holder: int | None) -> None:
        by = f"pid {holder}" if holder is not None else "another process"
        super().__init__(f"{directory} is in use by a running daemon ({by})")
        self.directory = directory
        self.holder = holder


class DirectoryLock:
    """An exclusive lock on a directory, created if missing."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock at once or raise `DirectoryInUse`; never waits."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(self.directory)
            os.close(fd)
            raise DirectoryInUse(self.directory, holder) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None


def lock_holder(directory: Path) -> int | None:
    """The pid holding a flock on `directory`, if any (from /proc/locks)."""
    try:
        stat = directory.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    inode = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in locks.splitlines():
        # e.g. "3: FLOCK  ADVISORY  WRITE 4711 00:2d:1234 0 EOF"
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
            with contextlib.suppress(ValueError):
                return int(fields[4])
    return None
