"""The job spec has no way to loosen a container's confinement (issue #14).

No privileged mode, host namespace, host path, device or capability option
exists: each is refused as an unknown field (the spec forbids extra fields),
and the limits can't be lifted. The one user option, `user`, only narrows: it
refuses root. The hardening itself is the runtime's
(see test_runtime_hardening.py).
"""

import re

import pytest
from pydantic import BaseModel

from ozymandias.spec.loader import SpecError, load_job
from ozymandias.spec.models import JobSpec


def job(container: str, extra: str = "") -> str:
    """A one-container job in YAML, the container's extra fields written in flow style."""
    return f"name: web\n{extra}containers: {{app: {{image: x, {container}}}}}\n"


def problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        load_job(text)
    return [(problem.path, problem.message) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ("privileged: true", "privileged"),
        ("devices: ['/dev/sda:/dev/sda']", "devices"),
        ("cap_add: [SYS_ADMIN]", "cap_add"),
        ("cap_drop: [NET_RAW]", "cap_drop"),
        ("security_opt: ['seccomp=unconfined']", "security_opt"),
        ("network_mode: host", "network_mode"),
        ("pid: host", "pid"),
        ("ipc: host", "ipc"),
        ("userns_mode: host", "userns_mode"),
        ("user_ns: host", "user_ns"),
        ("sysctls: {kernel.shmmax: '1'}", "sysctls"),
        ("volumes_from: [other]", "volumes_from"),
    ],
)
def test_container_options_that_loosen_are_unknown(fields: str, field: str) -> None:
    [(path, message)] = problems(job(fields))
    assert path == f"containers.app.{field}"
    assert message.startswith(f"unknown field '{field}'")


@pytest.mark.parametrize("field", ["privileged", "hostNetwork", "hostPID", "hostIPC"])
def test_job_options_that_loosen_are_unknown(field: str) -> None:
    assert problems(job("memory: 64M", f"{field}: true\n")) == [(field, f"unknown field '{field}'")]


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        pytest.param(
            "volumes: ['/etc:/etc']", "volumes.0", "must be a mapping", id="compose bind mount"
        ),
        pytest.param(
            "volumes: [{type: bind, path: /etc, space: 1M}]",
            "volumes.0.type",
            "must be 'local' or 'shared'",
            id="bind volume",
        ),
        pytest.param(
            "volumes: [{type: local, source: /etc, path: /host, space: 1M}]",
            "volumes.0.source",
            "unknown field 'source'",
            id="volume source",
        ),
        pytest.param(
            "volumes: [{type: shared, name: ../../etc, path: /d, space: 1M}]",
            "volumes.0.name",
            "not a volume name",
            id="volume name as a path",
        ),
        pytest.param("pids: -1", "pids", "greater than or equal to 16", id="unlimited pids"),
        pytest.param("pids: 0", "pids", "greater than or equal to 16", id="no pids"),
        pytest.param("cpus: -1", "cpus", "greater than or equal to 0.01", id="negative cpus"),
        pytest.param("cpus: 0.001", "cpus", "greater than or equal to 0.01", id="too few cpus"),
    ],
)
def test_no_host_path_and_no_unbounded_limit(fields: str, path: str, message: str) -> None:
    [(found_path, found_message)] = problems(job(fields))
    assert found_path == f"containers.app.{path}"
    assert message in found_message


@pytest.mark.parametrize("user", ["root", "0", "0:0", "1000:0", "app:root"])
def test_the_user_may_not_be_root(user: str) -> None:
    [(path, message)] = problems(job(f"user: '{user}'"))
    assert path == "containers.app.user"
    assert "may not be root" in message


def test_a_non_root_user_is_accepted() -> None:
    assert load_job(job("user: '1000:1000'")).containers["app"].user == "1000:1000"


# Fields that match `_LOOSENING` but are safe, each with why.
_SAFE = {
    "user": "refuses root (test_the_user_may_not_be_root), so it can only narrow the image's",
}

# Words that would name a way out of the container's confinement.
_LOOSENING = re.compile(
    r"privileged|device|^cap_|capabilit|security|seccomp|apparmor|sysctl|^user|userns"
    r"|network_mode|^pid$|^ipc$|^host(?!s$)|source|bind|_from$|propagation",
    re.IGNORECASE,
)


def _field_names(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Every field name and alias of a model and the models it nests."""
    seen.add(model)
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names |= {name, field.alias or name}
        for nested in _nested_models(field.annotation):
            if nested not in seen:
                names |= _field_names(nested, seen)
    return names


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in getattr(annotation, "__args__", ()) for model in _nested_models(arg)]


def test_no_spec_model_has_a_loosening_field() -> None:
    # A tripwire for new fields: one that matches must come with a reason it is safe.
    names = _field_names(JobSpec, set())
    assert {"containers", "volumes", "pids", "hosts"} <= names  # the walk reached them
    assert sorted(name for name in names if _LOOSENING.search(name) and name not in _SAFE) == []


@pytest.mark.parametrize("name", ["user_namespace", "username", "userns", "users"])
def test_the_tripwire_still_catches_other_user_fields(name: str) -> None:
    assert _LOOSENING.search(name) and name not in _SAFE
