"""Shared volumes: one directory per job and volume name under the node's shared-storage root.

Every instance of a job that mounts a shared volume must see the same data,
wherever it runs. The nodes of a zone therefore share one directory tree (in
production an NFS mount; in tests a directory several nodes are given), and a
shared volume is simply `<root>/<job>/<volume>` in it. Any of those nodes may
create, measure or remove it, possibly at the same moment as another node, so
every operation here tolerates the others' (a directory that vanishes while
it is walked or removed is not an error).

`space` is not enforced on shared volumes: `used_bytes` lets the caller watch it.

The calls are synchronous (cheap filesystem calls, though a walk of a big tree
over NFS is not): wrap them in `asyncio.to_thread` from the event loop.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger(__name__)


class SharedDirs:
    """The shared volumes in one shared-storage root."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        return self._root

    def path(self, job: str, name: str) -> Path:
        _check_component(job, "job")
        _check_component(name, "volume")
        return self._root / job / name

    def ensure(self, job: str, name: str) -> Path:
        """Create the volume's directory unless it exists; return it."""
        directory = self.path(job, name)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def remove(self, job: str, name: str) -> None:
        """Delete the volume and its data, then the job's directory if it is empty.

        Idempotent, and another node may be removing it at the same time.
        """
        directory = self.path(job, name)
        # Renamed aside first: a node removing it late (a peer finished long
        # ago) then finds nothing, rather than deleting a volume made anew.
        doomed = self.root / f".removing-{job}-{name}-{uuid.uuid4().hex[:8]}"
        try:
            directory.rename(doomed)
        except FileNotFoundError:
            pass
        else:
            shutil.rmtree(doomed, onerror=_ignore_missing)
            # The agent logs the removal, by the volume's name (agent/volumes.py).
            log.debug("removed shared volume %s", directory)
        try:
            directory.parent.rmdir()
        except FileNotFoundError:
            pass
        except OSError as error:
            # Another volume of the job, or another node's ensure, is using it.
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise

    def used_bytes(self, job: str, name: str) -> int | None:
        """The disk space the volume takes (like `du`), None if it does not exist.

        Symlinks are not followed; a file with several hard links counts once.
        """
        directory = self.path(job, name)
        try:
            top = directory.lstat()
        except FileNotFoundError:
            return None
        total = top.st_blocks * 512
        linked: set[tuple[int, int]] = set()  # files with more than one link, counted once
        pending = [directory]
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except (FileNotFoundError, NotADirectoryError):  # removed meanwhile
                continue
            for entry in entries:
                try:
                    stat = entry.stat(follow_symlinks=False)
                    is_dir = entry.is_dir(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.st_nlink > 1 and not is_dir:
                    if (stat.st_dev, stat.st_ino) in linked:
                        continue
                    linked.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
                if is_dir:
                    pending.append(Path(entry.path))
        return total


def _check_component(text: str, what: str) -> None:
    if not text or "/" in text or "\0" in text or text.startswith("."):
        raise ValueError(f"{what} name {text!r} can't be used as a directory name")


def _ignore_missing(
    function: object, path: str, exc_info: tuple[type, BaseException, object]
) -> None:
    # Another node removed it first.
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]
