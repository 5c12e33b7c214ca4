"""Setting, deleting and re-sealing secrets: what the API's secrets routes call.

Values are sealed here, on the node that takes the request, with the key the
cluster names in etcd (the first secret of a cluster names the node's first
key), and only sealed records reach the store. A change to a secret rolls
out every job that uses it as a new version. No message, event or answer
built here holds a value.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ozymandias.cluster.records import Event, SealedSecret
from ozymandias.jobs.errors import JobNotFound, JobRejected
from ozymandias.jobs.service import JobService
from ozymandias.secrets.keyring import KeyFile, KeyFileError, Keyring
from ozymandias.secrets.references import jobs_using, keys_in_use
from ozymandias.secrets.sealing import SecretUnreadable, encode, open_record, seal
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable
from ozymandias.store.retry import LOST, Lost, retry_on_conflict
from ozymandias.store.secret_store import SecretStore

_MIRROR_WAIT_SECONDS = 5.0


class SecretNotFound(Exception):
    pass


class SecretInUse(Exception):
    def __init__(self, name: str, jobs: list[str], what: str = "") -> None:
        users = ", ".join(jobs)
        super().__init__(f"secret {name}{what} is used by job(s) {users}")
        self.jobs = jobs


class NoSecretsKey(Exception):
    """This node cannot seal or open: no key file, an unreadable one, or not the right key."""


@dataclass(frozen=True)
class SetResult:
    secret: SealedSecret
    changed: bool
    rolled_out: list[str]


@dataclass(frozen=True)
class RotateResult:
    key_id: str
    resealed: list[str]


class SecretService:
    def __init__(
        self,
        store: SecretStore,
        cluster: ClusterStore,
        mirrors: ClusterMirrors,
        jobs: JobService,
        key_file: KeyFile | None,
        *,
        node_name: str,
    ) -> None:
        self._store = store
        self._cluster = cluster
        self._mirrors = mirrors
        self._jobs = jobs
        self._key_file = key_file
        self._node_name = node_name

    def keyring(self) -> Keyring:
        if self._key_file is None:
            raise NoSecretsKey(
                f"node {self._node_name} has no secrets key (ozy node run --secrets-key-file)"
            )
        try:
            return self._key_file.keyring()
        except KeyFileError as error:
            raise NoSecretsKey(f"node {self._node_name}: {error}") from None

    async def set(self, name: str, values: Mapping[str, str]) -> SetResult:
        """Seal and store the secret's values (all of them: keys left out are gone)."""
        keyring = self.keyring()
        # A key a job uses must stay, or the job's next pods could not start.
        if users := keys_in_use(name, values, self._mirrors.jobs.items.values()):
            raise SecretInUse(name, users, " (a key left out)")

        async def attempt(_: int) -> SetResult | Lost:
            key_id, key_id_revision = await self._store.active_key_id()
            if key_id is None:
                key_id = keyring.first_id
            elif key_id not in keyring.keys:
                raise NoSecretsKey(
                    f"the cluster seals with key {key_id}, which node {self._node_name} does "
                    "not hold: add it to its --secrets-key-file"
                )
            current, revision = await self._store.read(name)
            if current is not None and _same_values(keyring, current, values):
                # Still roll out the jobs not on this revision yet: a set whose roll-out
                # failed (answered 503) is retried with the same values.
                rolled_out = await self._roll_out(current, revision)
                return SetResult(current, changed=False, rolled_out=rolled_out)
            sealed = seal(keyring.keys[key_id], name, values)
            record = SealedSecret(
                name=name,
                keys=sorted(values),
                version=current.version + 1 if current is not None else 1,
                update_time=time.time(),
                key_id=sealed.key_id,
                nonce=encode(sealed.nonce),
                ciphertext=encode(sealed.ciphertext),
            )
            written = await self._store.write(record, revision, key_id_revision=key_id_revision)
            if written is None:
                return LOST
            await self._known_here(written)
            rolled_out = await self._roll_out(record, written) if current is not None else []
            return SetResult(record, changed=True, rolled_out=rolled_out)

        return await retry_on_conflict(
            attempt,
            give_up=lambda attempts: StoreUnavailable(
                f"gave up setting secret {name} after {attempts} conflicting writes"
            ),
        )

    async def delete(self, name: str) -> None:
        """Delete a secret no job uses (else `SecretInUse`, naming them)."""

        async def attempt(_: int) -> Lost | None:
            users = jobs_using(name, self._mirrors.jobs.items.values())
            if users:
                raise SecretInUse(name, users)
            current, revision = await self._store.read(name)
            if current is None:
                raise SecretNotFound(name)
            return None if await self._store.delete(name, revision) else LOST

        await retry_on_conflict(
            attempt,
            give_up=lambda attempts: StoreUnavailable(
                f"gave up deleting secret {name} after {attempts} conflicting writes"
            ),
        )

    async def rotate(self, key_id: str) -> RotateResult:
        """Make `key_id` the cluster's key and seal every secret again with it.

        Values and versions stay as they are, so no job rolls out. The node
        must hold both the new key and the ones secrets are sealed with now.
        """
        keyring = self.keyring()
        if key_id not in keyring.keys:
            raise NoSecretsKey(
                f"node {self._node_name} does not hold key {key_id}: add it to its "
                "--secrets-key-file first (the file is read again when it changes)"
            )
        await self._store.choose_key(key_id)
        resealed = []
        for record, revision in await self._store.read_all():
            if record.key_id != key_id:
                await self._reseal(keyring, key_id, record, revision)
                resealed.append(record.name)
        return RotateResult(key_id, resealed)

    async def _reseal(
        self, keyring: Keyring, key_id: str, record: SealedSecret, revision: int
    ) -> None:
        async def attempt(number: int) -> Lost | None:
            current, current_revision = (
                (record, revision) if number == 0 else await self._store.read(record.name)
            )
            if current is None or current.key_id == key_id:
                return None  # deleted, or set anew (with the new key) meanwhile
            try:
                values = open_record(keyring.keys, current)
            except SecretUnreadable as error:
                raise NoSecretsKey(str(error)) from None
            sealed = seal(keyring.keys[key_id], current.name, values)
            resealed = current.model_copy(
                update={
                    "key_id": sealed.key_id,
                    "nonce": encode(sealed.nonce),
                    "ciphertext": encode(sealed.ciphertext),
                }
            )
            return None if await self._store.write(resealed, current_revision) else LOST

        await retry_on_conflict(
            attempt,
            give_up=lambda attempts: StoreUnavailable(
                f"gave up re-sealing secret {record.name} after {attempts} conflicting writes"
            ),
        )

    async def _roll_out(self, record: SealedSecret, revision: int) -> list[str]:
        """Give every job using the secret, and not on `revision` of it yet, a new version, so its
        pods get the new values."""
        rolled = []
        for job in jobs_using(record.name, self._mirrors.jobs.items.values()):
            current = self._mirrors.job(job)
            if current is not None and current.secrets_revision >= revision:
                continue  # made for this revision already
            message = f"secret {record.name} changed (version {record.version}): "
            try:
                await self._jobs.renew(job, revision)
            except JobNotFound:
                continue  # deleted meanwhile
            except JobRejected as rejection:
                message += f"could not roll out a new version: {rejection.detail}"
            else:
                message += "rolling out a new version"
                rolled.append(job)
            await self._cluster.record_event(
                Event(
                    time=time.time(),
                    kind="secret-changed",
                    message=message,
                    job=job,
                    node=self._node_name,
                )
            )
        return rolled

    async def _known_here(self, revision: int) -> None:
        """Wait (bounded) until this node's mirror has the write: a submit right after sees it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_MIRROR_WAIT_SECONDS):
                await self._mirrors.secrets.wait_for_revision(revision)


def _same_values(keyring: Keyring, record: SealedSecret, values: Mapping[str, str]) -> bool:
    try:
        return open_record(keyring.keys, record) == dict(values)
    except SecretUnreadable:
        return False
