"""A container's user, stop grace period and restart retries (compose's `user`,
`stop_grace_period`, `on-failure:N`): validated in the job spec, carried through the plan
to podman's JSON, and the retries applied by the restart rules."""

from typing import Any

import pytest

from ozymandias.agent.local_plan import DesiredInstance
from ozymandias.agent.pod_plan import pod_plan
from ozymandias.agent.restart_policy import retries_exhausted
from ozymandias.runtime.podman_json import container_spec
from ozymandias.spec.loader import SpecError, load_job
from ozymandias.spec.models import ContainerSpec


def app(fields: str) -> ContainerSpec:
    return load_job(f"name: web\ncontainers: {{app: {{image: x, {fields}}}}}\n").containers["app"]


def body(fields: str) -> dict[str, Any]:
    spec = load_job(f"name: web\ncontainers: {{app: {{image: x, {fields}}}}}\n")
    plan = pod_plan("n1", DesiredInstance("web", 0, 1, spec), network=None)
    [[container]] = plan.start_waves
    return container_spec(plan, container)


def problem(fields: str) -> tuple[str, str]:
    with pytest.raises(SpecError) as raised:
        app(fields)
    [found] = raised.value.problems
    return found.path, found.message


@pytest.mark.parametrize(
    ("fields", "user"),
    [
        ("user: 1000", "1000"),
        ("user: '1000:1000'", "1000:1000"),
        ("user: app", "app"),
        ("user: 'app:app'", "app:app"),
        ("user: 'www-data:1001'", "www-data:1001"),
    ],
)
def test_a_non_root_user_reaches_podman(fields: str, user: str) -> None:
    assert app(fields).user == user
    assert body(fields)["user"] == user


def test_without_a_user_podman_keeps_the_images() -> None:
    assert "user" not in body("command: [a]")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("user: root", "may not be root"),
        ("user: 0", "may not be root"),
        ("user: '000'", "may not be root"),
        ("user: '0:1000'", "may not be root"),
        ("user: '1000:0'", "may not be root"),
        ("user: 'app:root'", "may not be root"),
        ("user: 'a b'", "is not a user"),
        ("user: '1000:1000:1000'", "is not a user"),
        ("user: ''", "is not a user"),
        ("user: 'Admin'", "is not a user"),
        ("user: true", "string"),
    ],
)
def test_root_and_malformed_users_are_refused_at_the_field(fields: str, message: str) -> None:
    path, text = problem(fields)
    assert path == "containers.app.user"
    assert message in text


@pytest.mark.parametrize(
    ("fields", "seconds", "timeout"),
    [
        ("command: [a]", 5.0, 5),
        ("stop_grace_period: 30s", 30.0, 30),
        ("stop_grace_period: 1m30s", 90.0, 90),
        ("stop_grace_period: 1500ms", 1.5, 2),
        ("stop_grace_period: 0", 0.0, 0),
        ("stop_grace_period: 5m", 300.0, 300),
    ],
)
def test_the_stop_grace_period_is_the_containers_stop_timeout(
    fields: str, seconds: float, timeout: int
) -> None:
    assert app(fields).stop_grace_period == seconds
    assert body(fields)["stop_timeout"] == timeout


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("stop_grace_period: 5m1s", "less than or equal to 300"),
        ("stop_grace_period: -1", "greater than or equal to 0"),
        ("stop_grace_period: soon", "not a duration"),
    ],
)
def test_a_bad_stop_grace_period_is_refused(fields: str, message: str) -> None:
    path, text = problem(fields)
    assert path == "containers.app.stop_grace_period"
    assert message in text


@pytest.mark.parametrize(
    ("fields", "restart", "retries"),
    [
        ("restart: on-failure", "on-failure", None),
        ("restart: 'on-failure:3'", "on-failure", 3),
        ("restart: 'on-failure:0'", "on-failure", 0),
        ("{restart: on-failure, max_retries: 5}", "on-failure", 5),
        ("restart: always", "always", None),
    ],
)
def test_restart_retries(fields: str, restart: str, retries: int | None) -> None:
    container = app(fields.strip("{}"))
    assert (container.restart, container.max_retries) == (restart, retries)


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ("restart: always, max_retries: 3", "max_retries", "on-failure only, not to always"),
        ("restart: never, max_retries: 3", "max_retries", "on-failure only, not to never"),
        ("restart: on-failure, max_retries: -1", "max_retries", "greater than or equal to 0"),
        ("restart: 'on-failure:5000'", "max_retries", "less than or equal to 1000"),
        ("restart: 'on-failure:x'", "restart", "'always', 'on-failure'"),
    ],
)
def test_bad_retries_are_refused(fields: str, path: str, message: str) -> None:
    found_path, text = problem(fields)
    assert found_path == f"containers.app.{path}"
    assert message in text


@pytest.mark.parametrize(
    ("max_retries", "restarts", "exhausted"),
    [
        (None, 0, False),
        (None, 10_000, False),
        (0, 0, True),
        (3, 0, False),
        (3, 2, False),
        (3, 3, True),
        (3, 4, True),
    ],
)
def test_retries_exhausted(max_retries: int | None, restarts: int, exhausted: bool) -> None:
    assert retries_exhausted(max_retries, restarts) is exhausted
