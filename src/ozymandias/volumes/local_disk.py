"""Local volumes: the only module that runs `mkfs`, `mount`, `umount` and `losetup`.

A job's `space` for a local volume must be a hard limit: a container that
writes more must get ENOSPC, and neither the node's disk nor its other pods
may be affected. A plain directory can't promise that (quotas depend on the
host's filesystem and its mount options), so each local volume is a file
system of its own: a sparse file of exactly `space` bytes, formatted ext4 and
loop-mounted. The file only takes the disk space that is written to it.

Layout under the root (the node's data dir + "/local-volumes"):

    <root>/<job>/<index>/<volume>.img    the sparse image, size = space
    <root>/<job>/<index>/<volume>/       its mountpoint

An image is formatted under a temporary name and renamed into place, so a
`.img` file always holds a file system, even after a crash mid-way. Mounts do
not survive a host reboot, and the daemon may restart at any time: `ensure`
mounts an image that exists but is not mounted.

`mount -o loop` attaches a loop device with autoclear (util-linux does), so the
device is freed by the last `umount`; nothing here calls `losetup` itself. The
volumes are mounted `nodev,nosuid`: they hold a job's data, never devices or
set-uid programs for the host.

ext4 keeps part of the image for itself (inode tables, a journal), so a
volume holds somewhat less than `space`: about 8.0 MiB of 10M, 86 MiB of
100M, 957 MiB of 1G. Images below about 300K are too small for ext4, and
`ensure` fails for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ozymandias.child_process import run_program

log = logging.getLogger(__name__)

_IMAGE_SUFFIX = ".img"
_PARTIAL_SUFFIX = ".img.partial"
# Several mounts may be stacked on one mountpoint (e.g. two daemons that raced);
# unmounting stops after this many.
_MAX_UNMOUNTS = 8


class VolumeError(RuntimeError):
    pass


@dataclass(frozen=True, order=True)
class LocalVolume:
    job: str
    index: int
    name: str
    size: int
    """The image's size in bytes: the volume's `space`."""
    path: Path
    """The mountpoint."""


async def _run(program: str, *arguments: str) -> str:
    return await run_program(program, *arguments, error=VolumeError)


class _KeyLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class LocalDisks:
    """The node's local volumes, each a loop-mounted ext4 image of its own size."""

    def __init__(self, root: Path) -> None:
        # Absolute and without symlinks: mountpoints are compared with /proc/self/mountinfo.
        self._root = root.resolve()
        self._locks: dict[tuple[str, int, str], _KeyLock] = {}

    @property
    def root(self) -> Path:
        return self._root

    def _instance_dir(self, job: str, index: int) -> Path:
        _check_component(job, "job")
        if index < 0:
            raise ValueError(f"instance index {index} is negative")
        return self._root / job / str(index)

    def _paths(self, job: str, index: int, name: str) -> tuple[Path, Path, Path]:
        """The image, the partial image being formatted, and the mountpoint."""
        _check_component(name, "volume")
        if "." in name:
            # "a.img" would be the mountpoint of one volume and the image of another.
            raise ValueError(f"volume name {name!r} must not contain '.'")
        directory = self._instance_dir(job, index)
        return (
            directory / (name + _IMAGE_SUFFIX),
            directory / (name + _PARTIAL_SUFFIX),
            directory / name,
        )

    @contextlib.asynccontextmanager
    async def _locked(self, job: str, index: int, name: str) -> AsyncIterator[None]:
        key = (job, index, name)
        entry = self._locks.setdefault(key, _KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]

    async def ensure(self, job: str, index: int, name: str, size: int) -> Path:
        """Make the volume exist with `size` bytes and be mounted; return its mountpoint.

        An existing image of that size is kept with its data (and mounted if it is
        not, e.g. after a reboot). An image of another size is removed and created
        anew: its data is lost. Idempotent; volumes may be ensured concurrently.
        """
        if size <= 0:
            raise ValueError(f"volume size {size} is not positive")
        image, partial, mountpoint = self._paths(job, index, name)
        async with self._locked(job, index, name):
            current = _size_of(image)
            if current is not None and current != size:
                log.info(
                    "local volume %s/%d/%s changes size %d -> %d: recreating it empty",
                    job, index, name, current, size,
                )  # fmt: skip
                await self._remove_unlocked(image, partial, mountpoint)
                current = None
            if current is None:
                # A mount left on the mountpoint belongs to an image that is gone.
                await _unmount(mountpoint)
                await self._create(image, partial, size)
            # The directory holds the image, so no concurrent `remove` of a sibling
            # volume can take it away between these steps.
            os.makedirs(mountpoint, exist_ok=True)
            if not _is_mounted(mountpoint):
                await _run("mount", "-o", "loop,nodev,nosuid", str(image), str(mountpoint))
                log.debug("mounted local volume %s on %s", image, mountpoint)
        return mountpoint

    async def _create(self, image: Path, partial: Path, size: int) -> None:
        _new_sparse_file(partial, size)
        try:
            await _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=0:0", str(partial))
        except BaseException:
            _delete(partial)
            raise
        os.rename(partial, image)
        log.info("created local volume %s (%d bytes)", image, size)

    async def remove(self, job: str, index: int, name: str) -> None:
        """Unmount the volume and delete it, and its instance's and job's directories
        once empty. Idempotent."""
        image, partial, mountpoint = self._paths(job, index, name)
        async with self._locked(job, index, name):
            await self._remove_unlocked(image, partial, mountpoint)
            _remove_empty_dirs(image.parent, stop_at=self._root)

    async def _remove_unlocked(self, image: Path, partial: Path, mountpoint: Path) -> None:
        await _unmount(mountpoint)
        if _delete(image, partial, mountpoint):
            log.info("removed local volume %s", image)

    async def remove_instance(self, job: str, index: int) -> None:
        """Remove every volume of one instance."""
        directory = self._instance_dir(job, index)
        for name in _volume_names(directory):
            await self.remove(job, index, name)
        _remove_empty_dirs(directory, stop_at=self._root)

    async def remove_all(self) -> None:
        """Remove every volume on this node (when the node leaves the cluster)."""
        for job_dir in _subdirectories(self._root):
            for index_dir in _subdirectories(job_dir):
                if index_dir.name.isdigit():
                    await self.remove_instance(job_dir.name, int(index_dir.name))

    async def unmount_all(self) -> None:
        """Unmount every volume on this node and keep its data, for the node to come back."""
        for job, index in self.instances():
            for name in _volume_names(self._instance_dir(job, index)):
                async with self._locked(job, index, name):
                    await _unmount(self._paths(job, index, name)[2])

    def instances(self) -> list[tuple[str, int]]:
        """(job, index) of every instance with anything on disk, a half-made volume too."""
        return sorted(
            (job_dir.name, int(index_dir.name))
            for job_dir in _subdirectories(self._root)
            for index_dir in _subdirectories(job_dir)
            if index_dir.name.isdigit()
        )

    def existing(self) -> list[LocalVolume]:
        """The volumes on disk (by their images), mounted or not, sorted."""
        volumes = []
        for job_dir in _subdirectories(self._root):
            for index_dir in _subdirectories(job_dir):
                if not index_dir.name.isdigit():
                    continue
                for image in index_dir.glob("*" + _IMAGE_SUFFIX):
                    name = image.name.removesuffix(_IMAGE_SUFFIX)
                    try:
                        size = image.stat().st_size
                    except FileNotFoundError:  # removed meanwhile
                        continue
                    volumes.append(
                        LocalVolume(job_dir.name, int(index_dir.name), name, size, index_dir / name)
                    )
        return sorted(volumes)

    def used_bytes(self, volume: LocalVolume) -> int | None:
        """Bytes in use on the volume's file system; None if it is not mounted."""
        if not _is_mounted(volume.path):
            return None
        stats = os.statvfs(volume.path)
        return (stats.f_blocks - stats.f_bfree) * stats.f_frsize


def _check_component(text: str, what: str) -> None:
    if not text or "/" in text or "\0" in text or text.startswith("."):
        raise ValueError(f"{what} name {text!r} can't be used as a directory name")


_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def _mountpoints() -> set[str]:
    """Every mountpoint in this mount namespace."""
    points = set()
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as file:
        for line in file:
            fields = line.split(" ")
            if len(fields) > 4:
                # Spaces, tabs, newlines and backslashes are written as \ooo.
                points.add(_OCTAL_ESCAPE.sub(lambda m: chr(int(m[1], 8)), fields[4]))
    return points


def _is_mounted(path: Path) -> bool:
    return str(path) in _mountpoints()


async def _unmount(mountpoint: Path) -> None:
    """Unmount everything mounted on `mountpoint`, lazily if it is busy."""
    for _ in range(_MAX_UNMOUNTS):
        if not _is_mounted(mountpoint):
            return
        try:
            await _run("umount", str(mountpoint))
        except VolumeError as error:
            if "busy" not in str(error):
                raise
            # A container that still has it open may be going away; the loop
            # device is freed once the last user lets go.
            log.warning("%s is busy: unmounting it lazily", mountpoint)
            await _run("umount", "--lazy", str(mountpoint))
        log.debug("unmounted %s", mountpoint)
    if _is_mounted(mountpoint):
        raise VolumeError(f"{mountpoint} is still mounted after {_MAX_UNMOUNTS} unmounts")


def _size_of(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _new_sparse_file(path: Path, size: int) -> None:
    # Directory and file in one step, with no await between them: a concurrent
    # `remove` of a sibling volume only removes directories that are empty.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)


def _delete(*paths: Path) -> bool:
    """Delete files and (unmounted) directories; returns whether any existed."""
    existed = False
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            # Not a mountpoint any more: what is left was written to the bare directory.
            shutil.rmtree(path, ignore_errors=True)
            existed = True
        elif path.exists() or path.is_symlink():
            path.unlink(missing_ok=True)
            existed = True
    return existed


def _volume_names(directory: Path) -> set[str]:
    """The volumes in an instance's directory: images, partial images and mountpoints."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return set()
    names = set()
    for entry in entries:
        if entry.name.endswith(_PARTIAL_SUFFIX):
            names.add(entry.name.removesuffix(_PARTIAL_SUFFIX))
        elif entry.name.endswith(_IMAGE_SUFFIX):
            names.add(entry.name.removesuffix(_IMAGE_SUFFIX))
        elif "." not in entry.name and entry.is_dir():
            names.add(entry.name)
    return names


def _subdirectories(directory: Path) -> list[Path]:
    try:
        return sorted(entry for entry in directory.iterdir() if entry.is_dir())
    except FileNotFoundError:
        return []


def _remove_empty_dirs(directory: Path, stop_at: Path) -> None:
    """Remove `directory` and its parents below `stop_at` while they are empty."""
    while directory != stop_at and stop_at in directory.parents:
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return
            raise
        directory = directory.parent
