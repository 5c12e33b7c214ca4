"""A pod's secrets on the node that runs it: values opened here, files on tmpfs.

The node opens the values its pod's containers refer to with its key file,
just before the pod starts. A variable goes into the container's
environment; a file is written, mode 0400, under a directory of this node
on a tmpfs (never the disk), and bind-mounted read-only at its path. The
files go when the pod goes.

Errors say which secret and which key, never a value: they become the
instance's failure reason, an event and a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.runtime.models import Mount
from ozymandias.secrets.keyring import KeyFile, KeyFileError, Keyring
from ozymandias.secrets.sealing import SecretUnreadable, open_record
from ozymandias.store.cluster_mirrors import ClusterMirrors

log = logging.getLogger(__name__)

# How long a start waits for this node's mirror to show the secrets its job's
# version was made for (a secret change reaches each node by its own watch).
SECRETS_WAIT_SECONDS = 10.0
_MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


class SecretsUnavailable(Exception):
    """The pod's secrets can't be given to it on this node; the message holds no value."""


@dataclass(frozen=True)
class PodSecrets:
    environment: dict[str, dict[str, str]] = field(default_factory=dict)
    """By container: variables to add."""
    mounts: dict[str, list[Mount]] = field(default_factory=dict)
    """By container: the files to bind-mount, read-only."""


class SecretDelivery:
    def __init__(
        self, node_name: str, mirrors: ClusterMirrors, key_file: KeyFile | None, root: Path
    ) -> None:
        """`root`: this node's directory of secret files, on a tmpfs (e.g. under /dev/shm)."""
        self._node_name = node_name
        self._mirrors = mirrors
        self._key_file = key_file
        self._root = root

    async def prepare(self, instance: DesiredInstance, pod_name: str) -> PodSecrets:
        """Open the instance's secrets and write its files; nothing when it uses none."""
        refs = {name: c.secrets for name, c in instance.spec.containers.items() if c.secrets}
        if not refs:
            return PodSecrets()
        keyring = self._keyring()
        await self._wait_for_secrets(instance.job)
        root = self._private_root()
        directory = root / pod_name
        shutil.rmtree(directory, ignore_errors=True)
        environment: dict[str, dict[str, str]] = {}
        mounts: dict[str, list[Mount]] = {}
        opened: dict[str, dict[str, str]] = {}
        for container, container_refs in refs.items():
            for number, ref in enumerate(container_refs):
                if ref.secret not in opened:
                    opened[ref.secret] = self._open(keyring, ref.secret)
                value = opened[ref.secret].get(ref.key)
                if value is None:
                    raise SecretsUnavailable(f"secret {ref.secret} has no key {ref.key} any more")
                if ref.env is not None:
                    environment.setdefault(container, {})[ref.env] = value
                elif ref.path is not None:
                    source = _write_file(directory / container, str(number), value)
                    mount = Mount(str(source), ref.path, read_only=True)
                    mounts.setdefault(container, []).append(mount)
        return PodSecrets(environment, mounts)

    def remove(self, pod_name: str) -> None:
        """Remove a pod's secret files (a missing directory is fine)."""
        if self._root_is_private():
            shutil.rmtree(self._root / pod_name, ignore_errors=True)

    def keep_only(self, pod_names: Collection[str]) -> None:
        """Remove the files of every pod not named: pods that went while no daemon ran."""
        if not self._root_is_private():
            return
        with contextlib.suppress(FileNotFoundError):
            for directory in self._root.iterdir():
                if directory.name not in pod_names:
                    shutil.rmtree(directory, ignore_errors=True)

    def remove_all(self) -> None:
        """The node leaves: every secret file of it goes, and its directory."""
        if self._root_is_private():
            shutil.rmtree(self._root, ignore_errors=True)

    def _private_root(self) -> Path:
        """This node's directory of secret files, made if missing, refused if not ours alone.

        It lives under /dev/shm, which every user may write: a directory or a
        link planted there before the daemon starts must not steer what it
        writes, chmods or removes as root. So each level is made 0700 by us,
        and one found must be a real directory (not a link) owned by us that
        no one else may write to.
        """
        for level in (self._root.parent, self._root):
            with contextlib.suppress(FileExistsError):
                os.mkdir(level, 0o700)
            if not _ours_alone(level):
                raise SecretsUnavailable(
                    f"{level} is not a directory of this node's user alone (a link, another "
                    "user's, or writable by others): remove it, and start the node again"
                )
        os.chmod(self._root, 0o700)
        return self._root

    def _root_is_private(self) -> bool:
        """Whether the directory is there and safe to remove from (see `_private_root`)."""
        try:
            safe = _ours_alone(self._root.parent) and _ours_alone(self._root)
        except FileNotFoundError:
            return False
        if not safe:
            log.error(
                "%s is not this node's alone: its secret files are left as they are", self._root
            )
        return safe

    def _keyring(self) -> Keyring:
        if self._key_file is None:
            raise SecretsUnavailable(
                f"node {self._node_name} has no secrets key to open this job's secrets: "
                "start it with --secrets-key-file"
            )
        try:
            return self._key_file.keyring()
        except KeyFileError as error:
            raise SecretsUnavailable(str(error)) from None

    async def _wait_for_secrets(self, job: str) -> None:
        record = self._mirrors.job(job)
        revision = record.secrets_revision if record is not None else 0
        try:
            async with asyncio.timeout(SECRETS_WAIT_SECONDS):
                await self._mirrors.secrets.wait_for_revision(revision)
        except TimeoutError:
            raise SecretsUnavailable(
                f"this node has not seen the secrets of job {job}'s version yet "
                f"(revision {revision})"
            ) from None

    def _open(self, keyring: Keyring, name: str) -> dict[str, str]:
        record = self._mirrors.secret(name)
        if record is None:
            raise SecretsUnavailable(f"secret {name} does not exist any more")
        try:
            return open_record(keyring.keys, record)
        except SecretUnreadable as error:
            raise SecretsUnavailable(str(error)) from None


def _ours_alone(path: Path) -> bool:
    """A real directory (not a link to one), of this process's user, that no one else may write."""
    found = os.lstat(path)
    return (
        stat.S_ISDIR(found.st_mode) and found.st_uid == os.geteuid() and not found.st_mode & 0o022
    )


def _write_file(directory: Path, name: str, value: str) -> Path:
    """Write one value, readable by its owner only, in a directory no one else may enter."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_in_memory(directory)
    path = directory / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    with os.fdopen(descriptor, "w") as file:
        file.write(value)
    return path


def _check_in_memory(directory: Path) -> None:
    filesystem = filesystem_type(directory)
    if filesystem not in _MEMORY_FILESYSTEMS:
        raise SecretsUnavailable(
            f"{directory} is on {filesystem or 'an unknown filesystem'}, not a tmpfs: "
            "secret files are never written to disk"
        )


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem `path` is on, from this mount namespace's mountinfo."""
    resolved = str(path.resolve())
    best, best_type = "", None
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            before, _, after = line.partition(" - ")
            mount_point = before.split()[4].encode().decode("unicode_escape")
            inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, best_type = mount_point, after.split()[0]
    return best_type
