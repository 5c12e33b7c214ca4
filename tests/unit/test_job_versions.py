"""A job's history as `ozy history` lists it, and the version `ozy rollback` goes to."""

from __future__ import annotations

import pytest

from ozymandias.cluster.records import Deployment, DeploymentStatus, JobVersion
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.versions import EARLIER_NOT_KEPT, history, rollback_target
from ozymandias.spec.loader import job_from_data

OK = DeploymentStatus.SUCCESSFUL
FAILED = DeploymentStatus.FAILED
RUNNING = DeploymentStatus.RUNNING


def kept(version: int, status: DeploymentStatus | None = OK, image: str = "") -> JobVersion:
    spec = job_from_data(
        {"name": "shop", "containers": {"web": {"image": image or f"web:{version}"}}}
    )
    return JobVersion(
        job="shop",
        version=version,
        spec=spec,
        submitted_at=1000.0 + version,
        deployment_status=status,
    )


def deployment(version: int, status: DeploymentStatus) -> Deployment:
    return Deployment(
        job="shop",
        version=version,
        status=status,
        created_at=0,
        updated_at=0,
        last_progress_at=0,
    )


def test_history_is_newest_first_each_version_against_the_one_before() -> None:
    entries = history([kept(1), kept(2, FAILED), kept(3, None)], 3, None)
    assert [(e.version, e.current, e.stable) for e in entries] == [
        (3, True, False),
        (2, False, False),
        (1, False, True),
    ]
    assert [e.summary for e in entries] == [
        "image web:2 → web:3",
        "image web:1 → web:2",
        "first version",
    ]
    assert [e.submitted_at for e in entries] == [1003.0, 1002.0, 1001.0]


def test_the_oldest_kept_version_says_earlier_ones_are_gone() -> None:
    entries = history([kept(5), kept(6)], 6, None)
    assert [e.summary for e in entries] == ["image web:5 → web:6", EARLIER_NOT_KEPT]


@pytest.mark.parametrize(
    ("live", "shown", "stable"),
    [
        (None, None, False),  # no deployment (yet)
        (deployment(2, RUNNING), RUNNING, False),  # its own, under way
        (deployment(2, OK), OK, True),  # ended; its status not copied yet
        (deployment(1, RUNNING), None, False),  # another version's
    ],
)
def test_a_version_without_a_final_status_shows_its_live_deployments(
    live: Deployment | None, shown: DeploymentStatus | None, stable: bool
) -> None:
    newest = history([kept(1), kept(2, None)], 2, live)[0]
    assert (newest.deployment_status, newest.stable) == (shown, stable)


def test_a_final_status_wins_over_the_live_deployment() -> None:
    newest = history([kept(1), kept(2, FAILED)], 2, deployment(2, RUNNING))[0]
    assert newest.deployment_status is FAILED


def test_no_versions_no_history() -> None:
    assert history([], 4, None) == []


TARGETS: list[tuple[str, list[JobVersion], int, int | None, int]] = [
    ("the previous version, stable", [kept(1), kept(2)], 2, None, 1),
    ("past a failed one", [kept(1), kept(2, FAILED), kept(3)], 3, None, 1),
    ("the newest stable, not the oldest", [kept(1), kept(2), kept(3, FAILED)], 3, None, 2),
    ("past one without a result", [kept(1), kept(2, None), kept(3, None)], 3, None, 1),
    ("a failed current version", [kept(1), kept(2, FAILED)], 2, None, 1),
    ("a named version, stable or not", [kept(1), kept(2, FAILED), kept(3)], 3, 2, 2),
    ("a named older version", [kept(1), kept(2), kept(3)], 3, 1, 1),
]


@pytest.mark.parametrize(
    ("versions", "current", "requested", "expected"),
    [case[1:] for case in TARGETS],
    ids=[case[0] for case in TARGETS],
)
def test_the_rollback_target(
    versions: list[JobVersion], current: int, requested: int | None, expected: int
) -> None:
    assert rollback_target("shop", versions, current, requested).version == expected


REFUSALS: list[tuple[str, list[JobVersion], int, int | None, int, str, str]] = [
    (
        "only unstable versions before",
        [kept(1, FAILED), kept(2, None), kept(3)],
        3,
        None,
        409,
        "no-stable-version",
        "no version of job shop before its current version 3 is stable (a version is stable"
        " once its deployment succeeded): version 2 (no deployment result), version 1 failed;"
        " name the version to go back to (`ozy rollback shop --to VERSION`)",
    ),
    (
        "a first version only",
        [kept(1)],
        1,
        None,
        409,
        "no-stable-version",
        "no version of job shop before its current version 1 is stable (a version is stable"
        " once its deployment succeeded): no earlier version is kept; name the version to go"
        " back to (`ozy rollback shop --to VERSION`)",
    ),
    (
        "a version not kept",
        [kept(5), kept(6)],
        6,
        2,
        404,
        "version-not-found",
        "job shop has no version 2: `ozy history shop` lists the versions kept (the last 10)",
    ),
    (
        "the current version",
        [kept(1), kept(2)],
        2,
        2,
        409,
        "version-is-current",
        "version 2 is job shop's current version",
    ),
]


@pytest.mark.parametrize(
    ("versions", "current", "requested", "status", "kind", "detail"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_rollback_without_a_target_says_why(
    versions: list[JobVersion],
    current: int,
    requested: int | None,
    status: int,
    kind: str,
    detail: str,
) -> None:
    with pytest.raises(JobRejected) as refused:
        rollback_target("shop", versions, current, requested)
    assert (refused.value.status, refused.value.kind, refused.value.detail) == (
        status,
        kind,
        detail,
    )
