"""The secret service's decisions, over an in-memory store: which key seals, what rolls out,
what is refused, and what a rotation re-seals. Sealing itself is real."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ozymandias.cluster.records import Event, JobRecord, SealedSecret
from ozymandias.secrets.keyring import KeyFile, new_key_line
from ozymandias.secrets.sealing import key_id_of, open_record
from ozymandias.secrets.service import NoSecretsKey, SecretInUse, SecretNotFound, SecretService
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.etcd import StoreUnavailable


class MemoryStore:
    """SecretStore's contract in memory: compare-and-swap on each record and on the key id."""

    def __init__(self) -> None:
        self.revision = 0
        self.records: dict[str, tuple[SealedSecret, int]] = {}
        self.key_id: tuple[str, int] | None = None

    def _next(self) -> int:
        self.revision += 1
        return self.revision

    async def read(self, name: str) -> tuple[SealedSecret | None, int]:
        record, revision = self.records.get(name, (None, 0))
        return record, revision

    async def read_all(self) -> list[tuple[SealedSecret, int]]:
        return list(self.records.values())

    async def active_key_id(self) -> tuple[str | None, int]:
        return self.key_id if self.key_id is not None else (None, 0)

    async def write(
        self, secret: SealedSecret, revision: int, *, key_id_revision: int | None = None
    ) -> int | None:
        if (await self.read(secret.name))[1] != revision:
            return None
        if key_id_revision is not None and (await self.active_key_id())[1] != key_id_revision:
            return None
        written = self._next()
        if key_id_revision == 0:
            self.key_id = (secret.key_id, written)
        self.records[secret.name] = (secret, written)
        return written

    async def choose_key(self, key_id: str) -> int:
        self.key_id = (key_id, self._next())
        return self.revision

    async def delete(self, name: str, revision: int) -> bool:
        if (await self.read(name))[1] != revision:
            return False
        del self.records[name]
        return True


class Harness:
    def __init__(self, key_file: KeyFile | None, jobs: list[JobRecord]) -> None:
        self.store = MemoryStore()
        self.events: list[Event] = []
        self.renewed: list[tuple[str, int]] = []
        self.jobs = {keys.job(j.spec.name): j for j in jobs}
        self.fail_renewals = 0

        async def record_event(event: Event) -> None:
            self.events.append(event)

        async def renew(name: str, revision: int) -> None:
            if self.fail_renewals:
                self.fail_renewals -= 1
                raise StoreUnavailable("etcd did not answer")
            self.renewed.append((name, revision))
            job = self.jobs[keys.job(name)]
            self.jobs[keys.job(name)] = job.model_copy(update={"secrets_revision": revision})

        async def wait_for_revision(revision: int) -> None:
            return None

        mirrors = SimpleNamespace(
            jobs=SimpleNamespace(items=self.jobs),
            job=lambda name: self.jobs.get(keys.job(name)),
            secrets=SimpleNamespace(wait_for_revision=wait_for_revision),
        )
        self.service = SecretService(
            cast(Any, self.store),
            cast(Any, SimpleNamespace(record_event=record_event)),
            cast(Any, mirrors),
            cast(Any, SimpleNamespace(renew=renew)),
            key_file,
            node_name="n1",
        )

    def add(self, job: JobRecord) -> None:
        """A job submitted now (its secrets_revision as the submit would set it)."""
        self.jobs[keys.job(job.spec.name)] = job


def key_file(tmp_path: Path, *lines: str) -> KeyFile:
    path = tmp_path / "key"
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return KeyFile(path)


def job_using(name: str, key: str, secrets_revision: int = 0) -> JobRecord:
    ref = f"{{secret: db, key: {key}, env: V}}"
    return JobRecord(
        spec=load_job(f"name: {name}\ncontainers: {{app: {{image: x, secrets: [{ref}]}}}}"),
        secrets_revision=secrets_revision,
    )


def test_a_set_whose_roll_out_failed_rolls_out_when_retried(tmp_path: Path) -> None:
    harness = Harness(key_file(tmp_path, new_key_line()), [])
    asyncio.run(harness.service.set("db", {"password": "one"}))
    harness.add(job_using("web", "password", secrets_revision=harness.store.records["db"][1]))
    harness.fail_renewals = 1
    with pytest.raises(StoreUnavailable):
        asyncio.run(harness.service.set("db", {"password": "two"}))
    assert harness.renewed == []
    retried = asyncio.run(harness.service.set("db", {"password": "two"}))
    assert not retried.changed and retried.rolled_out == ["web"]
    assert harness.renewed == [("web", harness.store.records["db"][1])]
    again = asyncio.run(harness.service.set("db", {"password": "two"}))
    assert again.rolled_out == [] and len(harness.renewed) == 1  # up to date: nothing more


def test_the_first_secret_chooses_the_key_and_a_change_rolls_out(tmp_path: Path) -> None:
    first, second = new_key_line(), new_key_line()
    keyring_file = key_file(tmp_path, first, second)
    harness = Harness(keyring_file, [])
    keyring = keyring_file.keyring()

    made = asyncio.run(harness.service.set("db", {"password": "one"}))
    assert made.changed and made.rolled_out == [] and made.secret.version == 1
    harness.add(job_using("web", "password", secrets_revision=harness.store.records["db"][1]))
    assert harness.store.key_id is not None and harness.store.key_id[0] == keyring.first_id
    assert "one" not in made.secret.model_dump_json()

    same = asyncio.run(harness.service.set("db", {"password": "one"}))
    assert not same.changed and harness.renewed == []

    changed = asyncio.run(harness.service.set("db", {"password": "two"}))
    assert changed.secret.version == 2 and changed.rolled_out == ["web"]
    assert harness.renewed == [("web", harness.store.records["db"][1])]
    assert [event.kind for event in harness.events] == ["secret-changed"]
    assert "two" not in harness.events[0].message
    assert open_record(keyring.keys, harness.store.records["db"][0]) == {"password": "two"}


def test_refusals(tmp_path: Path) -> None:
    harness = Harness(key_file(tmp_path, new_key_line()), [job_using("web", "password")])
    asyncio.run(harness.service.set("db", {"password": "p"}))
    with pytest.raises(SecretInUse, match="web"):
        asyncio.run(harness.service.delete("db"))
    with pytest.raises(SecretInUse, match=r"web \(password\)"):
        asyncio.run(harness.service.set("db", {"user": "u"}))
    with pytest.raises(SecretNotFound):
        asyncio.run(harness.service.delete("other"))
    with pytest.raises(NoSecretsKey, match="secrets-key-file"):
        asyncio.run(Harness(None, []).service.set("db", {"password": "p"}))


def test_a_node_without_the_clusters_key_refuses_to_seal(tmp_path: Path) -> None:
    harness = Harness(key_file(tmp_path, new_key_line()), [])
    harness.store.key_id = ("0123456789abcdef", 1)
    with pytest.raises(NoSecretsKey, match="0123456789abcdef"):
        asyncio.run(harness.service.set("db", {"password": "p"}))


def test_a_rotation_reseals_everything_and_rolls_nothing_out(tmp_path: Path) -> None:
    old, new = new_key_line(), new_key_line()
    node_keys = key_file(tmp_path, old)
    harness = Harness(node_keys, [job_using("web", "password")])
    asyncio.run(harness.service.set("db", {"password": "p"}))
    asyncio.run(harness.service.set("tls", {"cert": "c"}))
    with pytest.raises(NoSecretsKey, match="does not hold key"):
        asyncio.run(harness.service.rotate(key_id_of(base64.b64decode(new))))
    # The new key is added to the node's file: read again, no restart.
    with node_keys.path.open("a") as file:
        file.write(f"{new}\n")
    new_id = key_id_of(base64.b64decode(new))
    rotated = asyncio.run(harness.service.rotate(new_id))
    assert sorted(rotated.resealed) == ["db", "tls"]
    assert harness.store.key_id is not None and harness.store.key_id[0] == new_id
    only_new = {new_id: base64.b64decode(new)}
    for name, values in [("db", {"password": "p"}), ("tls", {"cert": "c"})]:
        record = harness.store.records[name][0]
        assert record.key_id == new_id and record.version == 1
        assert open_record(only_new, record) == values
    assert harness.renewed == []
    assert asyncio.run(harness.service.rotate(new_id)).resealed == []
    # New secrets are sealed with the new key.
    assert asyncio.run(harness.service.set("api", {"token": "t"})).secret.key_id == new_id
