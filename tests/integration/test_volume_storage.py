"""Local volumes (real mkfs, loop mounts) and shared directories, on this machine.

Everything lives under the test's tmp_path; the `disks` fixture unmounts and
detaches whatever is left there, even when a test fails.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ozymandias.volumes.local_disk import LocalDisks, LocalVolume, VolumeError
from ozymandias.volumes.shared_dirs import SharedDirs
from tests.support.machine import (
    loop_backing_files,
    loops_under,
    mounted_under,
    mounts,
    unmount_everything_under,
)

pytestmark = pytest.mark.integration

M = 1024 * 1024
JOB = "ozy-volume-test"


def _umount(path: Path) -> None:
    """As a reboot or a crash would leave it: the image is there, the mount is not."""
    subprocess.run(["umount", str(path)], check=True)


@pytest.fixture
async def disks(tmp_path: Path) -> AsyncIterator[LocalDisks]:
    root = tmp_path / "local-volumes"
    local = LocalDisks(root)
    try:
        yield local
    finally:
        try:
            await local.remove_all()
        finally:
            unmount_everything_under(tmp_path)


def _fill(directory: Path, limit: int) -> tuple[int, OSError | None]:
    """Write 1M chunks to a file until `limit` bytes or an error; return the bytes written."""
    chunk = b"x" * M
    written = 0
    try:
        with open(directory / "fill", "wb") as file:
            while written < limit:
                written += file.write(chunk)
                file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        return written, error
    return written, None


async def test_ensure_creates_a_mounted_ext4_volume_of_the_size(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 0, "data", 10 * M)

    assert path == disks.root / JOB / "0" / "data"
    assert mounts().get(str(path)) == "ext4"
    image = disks.root / JOB / "0" / "data.img"
    assert image.stat().st_size == 10 * M
    assert image.stat().st_blocks * 512 < 10 * M, "the image should be sparse"
    stats = os.statvfs(path)
    assert 7 * M < stats.f_blocks * stats.f_frsize <= 10 * M
    assert path.stat().st_uid == 0 and path.stat().st_gid == 0
    (path / "hello").write_text("hi")
    assert (path / "hello").read_text() == "hi"


async def test_writing_beyond_the_space_fails_with_enospc(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 0, "small", 10 * M)
    other = await disks.ensure(JOB, 0, "other", 10 * M)

    written, error = _fill(path, 20 * M)

    assert error is not None and error.errno == errno.ENOSPC
    assert written <= 10 * M
    # Another volume is not affected.
    (other / "still-works").write_bytes(b"y" * M)


async def test_ensure_is_idempotent_and_keeps_the_data(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 1, "data", 10 * M)
    (path / "keep").write_text("kept")

    assert await disks.ensure(JOB, 1, "data", 10 * M) == path
    assert (path / "keep").read_text() == "kept"
    assert list(mounts()).count(str(path)) == 1

    _umount(path)  # as after a reboot or a daemon restart
    assert str(path) not in mounts()
    assert await disks.ensure(JOB, 1, "data", 10 * M) == path
    assert str(path) in mounts()
    assert (path / "keep").read_text() == "kept"


async def test_ensure_of_one_volume_at_once_mounts_it_once(disks: LocalDisks) -> None:
    paths = await asyncio.gather(*(disks.ensure(JOB, 0, "data", 10 * M) for _ in range(3)))

    assert len(set(paths)) == 1
    assert mounted_under(disks.root) == [str(paths[0])]
    assert len(loops_under(disks.root)) == 1


async def test_ensure_recovers_from_a_crash_mid_way(disks: LocalDisks) -> None:
    # A crash between creating the image and formatting it leaves a partial image.
    instance = disks.root / JOB / "0"
    instance.mkdir(parents=True)
    (instance / "data.img.partial").write_bytes(b"")
    assert disks.existing() == []

    path = await disks.ensure(JOB, 0, "data", 10 * M)

    assert mounts().get(str(path)) == "ext4"
    assert sorted(entry.name for entry in instance.iterdir()) == ["data", "data.img"]


async def test_ensure_with_another_size_recreates_the_volume_empty(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 0, "data", 10 * M)
    (path / "old").write_text("old")

    assert await disks.ensure(JOB, 0, "data", 20 * M) == path

    assert not (path / "old").exists()
    stats = os.statvfs(path)
    assert 16 * M < stats.f_blocks * stats.f_frsize <= 20 * M
    assert (disks.root / JOB / "0" / "data.img").stat().st_size == 20 * M
    assert mounted_under(disks.root) == [str(path)]
    assert len(loops_under(disks.root)) == 1


async def test_remove_unmounts_and_deletes(disks: LocalDisks) -> None:
    kept = await disks.ensure(JOB, 0, "kept", 10 * M)
    path = await disks.ensure(JOB, 0, "data", 10 * M)
    image = disks.root / JOB / "0" / "data.img"
    assert str(image) in loop_backing_files().values()

    await disks.remove(JOB, 0, "data")

    assert str(path) not in mounts()
    assert str(image) not in loop_backing_files().values()
    assert not image.exists() and not path.exists()
    assert str(kept) in mounts()
    await disks.remove(JOB, 0, "data")  # idempotent
    await disks.remove(JOB, 5, "never-made")

    await disks.remove(JOB, 0, "kept")

    assert not (disks.root / JOB).exists(), "empty instance and job directories go too"
    assert mounted_under(disks.root) == []
    assert loops_under(disks.root) == []


async def test_remove_of_a_busy_volume_unmounts_it_lazily(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 0, "busy", 10 * M)
    fd = os.open(path / "open-file", os.O_WRONLY | os.O_CREAT)  # keeps it busy
    try:
        await disks.remove(JOB, 0, "busy")

        assert str(path) not in mounts()
        assert not (disks.root / JOB).exists()
        assert os.write(fd, b"still writable while open") > 0
    finally:
        os.close(fd)

    # The loop device is released (autoclear) once its last user is gone.
    for _ in range(50):
        if not loops_under(disks.root):
            break
        await asyncio.sleep(0.1)
    assert loops_under(disks.root) == []


async def test_remove_instance_and_remove_all(disks: LocalDisks) -> None:
    await asyncio.gather(
        *(disks.ensure(JOB, index, name, 10 * M) for index in (0, 1) for name in ("a", "b")),
        disks.ensure("ozy-volume-test-2", 0, "a", 10 * M),
    )
    assert len(mounted_under(disks.root)) == 5

    await disks.remove_instance(JOB, 0)

    assert [(v.job, v.index, v.name) for v in disks.existing()] == [
        (JOB, 1, "a"),
        (JOB, 1, "b"),
        ("ozy-volume-test-2", 0, "a"),
    ]
    assert not (disks.root / JOB / "0").exists()
    assert len(mounted_under(disks.root)) == 3
    await disks.remove_instance(JOB, 0)  # idempotent

    await disks.remove_all()

    assert disks.existing() == []
    assert mounted_under(disks.root) == []
    assert loops_under(disks.root) == []
    assert list(disks.root.iterdir()) == []


async def test_existing_lists_volumes_mounted_or_not(disks: LocalDisks) -> None:
    assert disks.existing() == []
    b = await disks.ensure(JOB, 2, "b", 10 * M)
    a = await disks.ensure(JOB, 2, "a", 12 * M)
    _umount(b)

    assert disks.existing() == [
        LocalVolume(JOB, 2, "a", 12 * M, a),
        LocalVolume(JOB, 2, "b", 10 * M, b),
    ]


async def test_used_bytes_grows_after_a_write(disks: LocalDisks) -> None:
    path = await disks.ensure(JOB, 0, "data", 20 * M)
    [volume] = disks.existing()
    before = disks.used_bytes(volume)
    assert before is not None and before < M

    (path / "blob").write_bytes(os.urandom(5 * M))
    os.sync()

    after = disks.used_bytes(volume)
    assert after is not None and after >= before + 5 * M
    _umount(path)
    assert disks.used_bytes(volume) is None


async def test_a_failing_command_raises_volume_error(disks: LocalDisks) -> None:
    with pytest.raises(VolumeError, match=r"mkfs\.ext4 .*(too small|space)"):
        await disks.ensure(JOB, 0, "tiny", 4096)
    assert disks.existing() == []
    with pytest.raises(ValueError):
        await disks.ensure(JOB, 0, "../escape", 10 * M)
    with pytest.raises(ValueError):
        await disks.ensure(JOB, 0, "a.img", 10 * M)


# Shared directories


def test_shared_dirs_ensure_remove_and_used_bytes(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    node_a, node_b = SharedDirs(root), SharedDirs(root)  # two nodes, one shared root

    assert node_a.used_bytes(JOB, "data") is None
    path = node_a.ensure(JOB, "data")
    assert path == root / JOB / "data" and path.is_dir()
    assert node_b.ensure(JOB, "data") == path
    other = node_b.ensure(JOB, "other")

    empty = node_a.used_bytes(JOB, "data")
    assert empty is not None
    (path / "sub").mkdir()
    (path / "sub" / "blob").write_bytes(os.urandom(M))
    os.link(path / "sub" / "blob", path / "hard-link")  # counted once
    big = tmp_path / "outside"
    big.write_bytes(os.urandom(4 * M))
    (path / "link").symlink_to(big)  # not followed
    used = node_b.used_bytes(JOB, "data")
    assert used is not None and M <= used - empty < 2 * M

    node_a.remove(JOB, "data")
    assert not path.exists()
    assert other.is_dir(), "the job's other volume stays"
    assert big.exists(), "a symlink's target is not removed"
    node_b.remove(JOB, "data")  # already removed by the other node
    assert node_b.used_bytes(JOB, "data") is None

    node_b.remove(JOB, "other")
    assert not (root / JOB).exists(), "the job's empty directory goes too"
    node_a.remove(JOB, "other")
    with pytest.raises(ValueError):
        node_a.ensure(JOB, "..")
