"""A job's dependsOn conditions against its dependencies' instance statuses."""

from __future__ import annotations

import pytest

from ozymandias.agent.job_dependencies import unmet_dependency
from ozymandias.cluster.records import Health, InstanceState, InstanceStatus, JobRecord
from ozymandias.spec.loader import load_job

R, C, F, S = (
    InstanceState.RUNNING,
    InstanceState.COMPLETED,
    InstanceState.FAILED,
    InstanceState.STARTING,
)
H, U, ST = Health.HEALTHY, Health.UNHEALTHY, Health.STARTING


def record(instances: int, version: int = 2, kind: str = "service") -> JobRecord:
    count = "" if kind == "system" else f"numInstances: {instances}\n"
    spec = load_job(f"name: db\ntype: {kind}\n{count}containers: {{db: {{image: x}}}}\n")
    return JobRecord(spec=spec, version=version)


def status(
    state: InstanceState, health: Health, index: int = 0, version: int = 2
) -> InstanceStatus:
    return InstanceStatus(
        job="db", index=index, node="n1", state=state, health=health, spec_version=version
    )


def check(condition: str, db: JobRecord | None, statuses: list[InstanceStatus]) -> str | None:
    web = load_job(
        f"name: web\ndependsOn: [{{job: db, condition: {condition}}}]\n"
        "containers: {web: {image: x}}\n"
    )
    return unmet_dependency(web, {"db": db}.get, lambda job: statuses if job == "db" else [])


@pytest.mark.parametrize(
    ("condition", "instances", "statuses", "waits"),
    [
        ("service_started", 1, [], "(0 of 1 instances)"),
        ("service_started", 1, [(S, ST)], "(0 of 1 instances)"),
        ("service_started", 1, [(R, ST)], None),
        ("service_started", 2, [(R, ST)], "(1 of 2 instances)"),
        ("service_healthy", 1, [(R, ST)], "to be healthy (0 of 1 instances)"),
        ("service_healthy", 1, [(R, U)], "to be healthy (0 of 1 instances)"),
        ("service_healthy", 1, [(R, H)], None),
        ("service_healthy", 2, [(R, H), (F, U)], "(1 of 2 instances)"),
        ("service_completed_successfully", 1, [(R, H)], "to be completed successfully"),
        ("service_completed_successfully", 1, [(C, H)], None),
        ("service_completed_successfully", 1, [(F, U)], "(0 of 1 instances)"),
        ("service_healthy", 0, [], None),
    ],
)
def test_conditions(
    condition: str,
    instances: int,
    statuses: list[tuple[InstanceState, Health]],
    waits: str | None,
) -> None:
    found = [status(state, health, index) for index, (state, health) in enumerate(statuses)]
    reason = check(condition, record(instances), found)
    if waits is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith("waiting for job db") and waits in reason


def test_only_the_current_version_counts() -> None:
    assert check("service_healthy", record(1), [status(R, H, version=1)]) is not None


def test_a_missing_job_is_waited_for() -> None:
    assert check("service_started", None, []) == (
        "waiting for job db to be started: it does not exist"
    )


def test_a_system_job_needs_an_instance_and_all_reported() -> None:
    system = record(0, kind="system")
    assert check("service_started", system, []) is not None
    assert check("service_started", system, [status(R, H, 0), status(S, ST, 1)]) is not None
    assert check("service_started", system, [status(R, H, 0), status(R, ST, 1)]) is None
