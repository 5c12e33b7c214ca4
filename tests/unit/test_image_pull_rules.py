"""The pure rules of image pulls: references, default policies, reasons, single flight,
and a registry login's sealing."""

from __future__ import annotations

import asyncio
import os

import pytest

from ozymandias.agent.image_pulls import pull_retry_delay
from ozymandias.registries.sealing import open_login, reseal_login, seal_login
from ozymandias.runtime.pull_reasons import pull_reason
from ozymandias.runtime.single_flight import SingleFlight
from ozymandias.secrets.sealing import SecretUnreadable, key_id_of
from ozymandias.spec.images import (
    ImageReference,
    effective_pull,
    parse_image,
    pulls_before_start,
    registry_name_problem,
)


@pytest.mark.parametrize(
    ("image", "reference"),
    [
        ("busybox", ImageReference("docker.io", "busybox", None, None)),
        ("library/busybox:1.36", ImageReference("docker.io", "library/busybox", "1.36", None)),
        ("127.0.0.1:5000/web:1", ImageReference("127.0.0.1:5000", "web", "1", None)),
        ("localhost/ozy-web:latest", ImageReference("localhost", "ozy-web", "latest", None)),
        ("quay.io/org/app", ImageReference("quay.io", "org/app", None, None)),
        (
            "reg:5000/app@sha256:abc",
            ImageReference("reg:5000", "app", None, "sha256:abc"),
        ),
    ],
)
def test_an_image_reference_names_its_registry_as_docker_does(
    image: str, reference: ImageReference
) -> None:
    assert parse_image(image) == reference


@pytest.mark.parametrize(
    ("image", "declared", "policy"),
    [
        ("127.0.0.1:5000/web", None, "always"),  # untagged: may change
        ("127.0.0.1:5000/web:latest", None, "always"),
        ("127.0.0.1:5000/web:1", None, "missing"),
        ("127.0.0.1:5000/web@sha256:abc", None, "missing"),  # a digest never changes
        ("localhost/ozy-example-web:latest", None, "never"),  # built here: no registry
        ("127.0.0.1:5000/web:1", "always", "always"),
        ("127.0.0.1:5000/web:latest", "never", "never"),
    ],
)
def test_the_default_pull_policy_follows_kubernetes(
    image: str, declared: str | None, policy: str
) -> None:
    assert effective_pull(image, declared) == policy  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "present", "pulls"),
    [
        ("always", True, True),
        ("always", False, True),
        ("missing", True, False),
        ("missing", False, True),
        ("never", True, False),
        ("never", False, False),
    ],
)
def test_a_start_pulls_as_its_policy_says(policy: str, present: bool, pulls: bool) -> None:
    assert pulls_before_start(policy, present) is pulls  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            "initializing source docker://127.0.0.1:5000/web:1: reading manifest 1 in "
            "127.0.0.1:5000/web: unauthorized: authentication required",
            "unauthorized",
        ),
        (
            "reading manifest nope in 127.0.0.1:5000/web: manifest unknown: manifest unknown",
            "not found",
        ),
        (
            'pinging container registry 127.0.0.1:5000: Get "https://127.0.0.1:5000/v2/": '
            "dial tcp 127.0.0.1:5000: connect: connection refused",
            "registry unreachable",
        ),
        (
            'pinging container registry 127.0.0.1:5000: Get "https://127.0.0.1:5000/v2/": '
            "x509: certificate signed by unknown authority",
            "untrusted certificate",
        ),
        ("something new", "something new"),
    ],
)
def test_a_pull_failure_reads_as_its_kind(error: str, reason: str) -> None:
    assert (
        pull_reason("127.0.0.1:5000/web", error) == f"image pull: {reason} for 127.0.0.1:5000/web"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("127.0.0.1:5000", None),
        ("registry.example.com", None),
        ("docker.io", None),
        ("Registry.example.com", "is not a registry"),
        ("https://reg.example", "is not a registry"),
        ("reg.example/path", "is not a registry"),
        ("reg.example:70000", "no valid port"),
        ("a" * 254, "at most 253"),
    ],
)
def test_a_registry_is_named_by_host_and_port(name: str, problem: str | None) -> None:
    found = registry_name_problem(name)
    assert found is None if problem is None else found is not None and problem in found


def test_a_failing_pull_backs_off_from_5_s_to_5_minutes() -> None:
    assert [pull_retry_delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]


async def test_concurrent_runs_of_one_key_are_one_run_and_share_its_outcome() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    runs: list[str] = []
    gate = asyncio.Event()

    async def work(key: str) -> int:
        runs.append(key)
        await gate.wait()
        if key == "bad":
            raise RuntimeError("pull failed")
        return len(runs)

    callers = [
        asyncio.create_task(flights.run(key, lambda key=key: work(key)))  # type: ignore[misc]
        for key in ("a", "a", "bad", "bad", "a")
    ]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert sorted(runs) == ["a", "bad"]
    # Both runs began before either ended: each returns 2.
    assert [str(o) for o in outcomes] == ["2", "2", "pull failed", "pull failed", "2"]
    # Once landed, a run is forgotten: the next call runs anew.
    assert await flights.run("a", lambda: work("a")) == 3


async def test_a_cancelled_caller_leaves_the_run_going_for_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    first = asyncio.create_task(flights.run("k", work))
    second = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first


def test_a_registry_login_opens_only_as_that_registry_and_holds_no_password_in_clear() -> None:
    key = os.urandom(32)
    login = seal_login(key, "127.0.0.1:5000", "user", "S3cret-pw", ca=None)
    assert "S3cret-pw" not in login.to_json().decode()
    keys = {key_id_of(key): key}
    assert open_login(keys, login) == "S3cret-pw"
    moved = login.model_copy(update={"registry": "127.0.0.1:5001"})
    with pytest.raises(SecretUnreadable):
        open_login(keys, moved)
    with pytest.raises(SecretUnreadable):
        open_login({}, login)


def test_a_resealed_login_opens_with_the_new_key_only_and_keeps_its_user_and_ca() -> None:
    old, new = os.urandom(32), os.urandom(32)
    login = seal_login(old, "reg.example", "ci", "pw", ca="PEM")
    resealed = reseal_login(new, login, "pw")
    assert (resealed.username, resealed.ca, resealed.key_id) == ("ci", "PEM", key_id_of(new))
    assert open_login({key_id_of(new): new}, resealed) == "pw"
    with pytest.raises(SecretUnreadable):
        open_login({key_id_of(old): old}, resealed)
