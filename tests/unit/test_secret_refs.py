"""A container's `secrets:`: how they are written, checked against what exists, and planned."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.agent.pod_plan import pod_plan
from ozymandias.agent.secret_delivery import filesystem_type
from ozymandias.cluster.records import JobRecord
from ozymandias.runtime.models import Mount
from ozymandias.runtime.podman_json import container_spec
from ozymandias.secrets.references import jobs_using, keys_in_use, unknown_references
from ozymandias.spec.loader import SpecError, load_job
from ozymandias.spec.models import JobSpec


def job(secrets: str, extra: str = "", name: str = "web") -> JobSpec:
    return load_job(f"name: {name}\ncontainers: {{app: {{image: x, secrets: {secrets}{extra}}}}}\n")


def test_a_secret_as_a_variable_and_as_a_file() -> None:
    spec = job(
        "[{secret: db, key: password, env: DB_PASSWORD},"
        " {secret: tls, key: cert, path: /run/secrets/tls.crt}]"
    )
    refs = spec.containers["app"].secrets
    assert (refs[0].env, refs[0].path) == ("DB_PASSWORD", None)
    assert (refs[1].env, refs[1].path) == (None, "/run/secrets/tls.crt")
    assert spec.secret_refs == {("db", "password"), ("tls", "cert")}


@pytest.mark.parametrize(
    ("secrets", "extra", "path", "message"),
    [
        ("[{secret: db, key: k}]", "", "containers.app.secrets.0", "exactly one of env"),
        (
            "[{secret: db, key: k, env: A, path: /a}]",
            "",
            "containers.app.secrets.0",
            "exactly one of env",
        ),
        ("[{secret: DB, key: k, env: A}]", "", "containers.app.secrets.0.secret", "secret name"),
        ("[{secret: db, key: 'a b', env: A}]", "", "containers.app.secrets.0.key", "secret key"),
        ("[{secret: db, key: k, env: 1A}]", "", "containers.app.secrets.0.env", "variable name"),
        ("[{secret: db, key: k, path: rel}]", "", "containers.app.secrets.0.path", "absolute"),
        ("[{secret: db, key: k, path: /a/../b}]", "", "containers.app.secrets.0.path", "'..'"),
        (
            "[{secret: db, key: k, env: A}]",
            ", environment: {A: plain}",
            "containers.app.secrets.0.env",
            "more than once",
        ),
        (
            "[{secret: db, key: k, env: A}, {secret: db, key: j, env: A}]",
            "",
            "containers.app.secrets.1.env",
            "more than once",
        ),
        (
            "[{secret: db, key: k, path: /data}]",
            ", volumes: [{type: local, path: /data, space: 1M}]",
            "containers.app.secrets.0.path",
            "more than once",
        ),
    ],
)
def test_bad_references_are_explained(secrets: str, extra: str, path: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        job(secrets, extra)
    problem = caught.value.problems[0]
    assert problem.path == path
    assert message in problem.message


def test_too_many_references_are_refused() -> None:
    many = ", ".join(f"{{secret: db, key: k, env: V{i}}}" for i in range(101))
    with pytest.raises(SpecError, match="at most 100"):
        job(f"[{many}]")


@pytest.mark.parametrize(
    ("available", "problems"),
    [
        ({"db": ["password"]}, []),
        ({}, ["there is no secret 'db'"]),
        ({"db": ["user"]}, ["secret 'db' has no key 'password' (it has: user)"]),
    ],
)
def test_unknown_references(available: dict[str, list[str]], problems: list[str]) -> None:
    spec = job("[{secret: db, key: password, env: P}]")
    found = unknown_references(spec, available)
    assert len(found) == len(problems)
    for message, expected in zip(found, problems, strict=True):
        assert message.startswith(expected)


def test_jobs_using_a_secret() -> None:
    records = [
        JobRecord(spec=job("[{secret: db, key: p, env: P}]", name="web")),
        JobRecord(spec=job("[{secret: other, key: p, env: P}]", name="api")),
        JobRecord(spec=job("[{secret: db, key: q, path: /q}]", name="batch")),
    ]
    assert jobs_using("db", records) == ["batch", "web"]
    assert jobs_using("nobody", records) == []
    assert keys_in_use("db", ["p", "q"], records) == []
    assert keys_in_use("db", ["p"], records) == ["batch (q)"]
    assert keys_in_use("db", [], records) == ["batch (q)", "web (p)"]


def test_the_plan_gives_the_variable_and_a_read_only_file() -> None:
    spec = job("[{secret: db, key: p, env: P}, {secret: db, key: q, path: /run/q}]")
    plan = pod_plan(
        "n1",
        DesiredInstance("web", 0, 1, spec),
        network=None,
        mounts={"app": [Mount("/dev/shm/ozymandias/n1/pod/app/1", "/run/q", read_only=True)]},
        secret_environment={"app": {"P": "opened"}},
    )
    [[app]] = plan.start_waves
    body = container_spec(plan, app)
    assert body["env"]["P"] == "opened"
    assert body["mounts"] == [
        {
            "destination": "/run/q",
            "source": "/dev/shm/ozymandias/n1/pod/app/1",
            "type": "bind",
            "options": ["rbind", "ro"],
        }
    ]
    # Labels are what `podman ps` shows anyone: no value in them.
    assert "opened" not in str(body["labels"])


def test_a_spec_holds_only_the_reference_and_reads_back_from_etcd() -> None:
    spec = job("[{secret: db, key: p, env: P}, {secret: db, key: q, path: /q}]")
    assert spec.model_dump(mode="json")["containers"]["app"]["secrets"] == [
        {"secret": "db", "key": "p", "env": "P", "path": None},
        {"secret": "db", "key": "q", "env": None, "path": "/q"},
    ]
    record = JobRecord(spec=spec)
    assert JobRecord.from_json(record.to_json()) == record


def test_the_filesystem_of_a_path() -> None:
    assert filesystem_type(Path("/dev/shm")) == "tmpfs"
    assert filesystem_type(Path("/proc/self")) == "proc"
