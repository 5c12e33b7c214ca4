"""`ozy history`'s one-line summary of what changed from one version of a job to the next."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.plans.history_summary import summarize
from ozymandias.spec.loader import job_from_data
from ozymandias.spec.models import JobSpec


def job(**changes: Any) -> JobSpec:
    """A one-container job, `changes` merged into its `web` container (`job_*` ones into the
    job itself)."""
    container = {"image": "web:1", "memory": "64M"}
    fields: dict[str, Any] = {"name": "shop", "numInstances": 2}
    for key, value in changes.items():
        if key.startswith("job_"):
            fields[key.removeprefix("job_")] = value
        else:
            container[key] = value
    return job_from_data({**fields, "containers": {"web": container}})


def two(**sidecar: Any) -> JobSpec:
    """`job()` with a second container, so changes name theirs."""
    containers = {
        "web": {"image": "web:1", "memory": "64M"},
        "sidecar": {"image": "proxy:1", **sidecar},
    }
    return job_from_data({"name": "shop", "containers": containers, "numInstances": 2})


CASES: list[tuple[str, JobSpec | None, JobSpec, str]] = [
    ("a first version", None, job(), "first version"),
    ("the same spec (a restart)", job(), job(), "same spec"),
    ("an image", job(), job(image="web:2"), "image web:1 → web:2"),
    (
        "image and memory, in the spec's field order",
        job(),
        job(memory="128M", image="web:2"),
        "image web:1 → web:2; memory 64M → 128M",
    ),
    ("the instance count", job(), job(job_numInstances=5), "instances 2 → 5"),
    (
        "environment names only: added, removed, changed",
        job(environment={"KEEP": "1", "OLD": "x", "PORT": "80"}),
        job(environment={"KEEP": "1", "NEW": "y", "PORT": "8080"}),
        "environment +NEW -OLD ~PORT",
    ),
    (
        "ports in compose's notation",
        job(ports=["8080:80"]),
        job(ports=["8080:80", "9090", "53:53/udp"]),
        "ports 8080:80 → 8080:80, 9090, 53/udp",
    ),
    ("no ports any more", job(ports=["9090"]), job(), "ports 9090 → none"),
    ("a cpu limit", job(), job(cpus=0.5), "cpus unlimited → 0.5"),
    (
        "a command, and the image's own",
        job(command="sleep 10"),
        job(),
        "command sleep 10 → the image's",
    ),
    (
        "a long image, cut short",
        job(),
        job(image="registry.example.com/team/a-very-long-repository-name:v2"),
        "image web:1 → registry.example.com/team/a-very-long-r…",
    ),
    (
        "a healthcheck added",
        job(),
        job(healthcheck={"type": "tcp", "port": 80}),
        "+healthcheck",
    ),
    (
        "a healthcheck changed",
        job(healthcheck={"type": "tcp", "port": 80}),
        job(healthcheck={"type": "tcp", "port": 81}),
        "healthcheck changed",
    ),
    ("a container added", job(), two(), "+container sidecar"),
    ("a container removed", two(), job(), "-container sidecar"),
    (
        "with several containers, changes name theirs",
        two(),
        two(image="proxy:2", memory="32M"),
        "sidecar image proxy:1 → proxy:2; sidecar memory 256M → 32M",
    ),
    (
        "job fields without values, under the names the user writes",
        job(),
        job(job_nodeSelector={"disk": "ssd"}, job_update={"max_parallel": 2}),
        "nodeSelector changed; update changed",
    ),
    (
        "at most six changes, then how many more",
        job(),
        job(
            image="web:2",
            memory="128M",
            cpus=1,
            pids=100,
            restart="never",
            command="run",
            environment={"A": "1"},
            job_numInstances=3,
        ),
        "instances 2 → 3; image web:1 → web:2; restart always → never; command the image's → run;"
        " environment +A; 3 more changes",
    ),
]


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_summary_names_each_change_in_the_users_notation(
    previous: JobSpec | None, current: JobSpec, expected: str
) -> None:
    assert summarize(previous, current) == expected
