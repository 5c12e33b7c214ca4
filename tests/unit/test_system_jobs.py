"""System jobs (`type: system`) outside placement: the spec, scaling and type changes, rollout,
drain, and the reconciler's plan."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ozymandias.cluster.records import Drain, JobRecord, Node, Resources, Schedule
from ozymandias.deployments.drain import stop_system_on, system_ready_to_stop
from ozymandias.deployments.rollout import next_step
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.replacement import plan_replacement
from ozymandias.jobs.service import JobService
from ozymandias.jobs.system_jobs import plan_system_job
from ozymandias.plans.notation import spec_notation
from ozymandias.plans.spec_diff import diff_specs
from ozymandias.spec.loader import SpecError, job_from_data, load_job
from ozymandias.spec.models import JobSpec
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.job_service_fakes import Etcd, Mirrors
from tests.unit.test_deployments_rollout import MB, NOW, deployment, state

GiB = 1024**3
AGENT = "name: agent\ntype: system\ncontainers: {app: {image: tools:1, memory: 64M}}\n"


def system_spec(**extra: Any) -> JobSpec:
    data = {"name": "agent", "type": "system", "containers": {"app": {"image": "t:1"}}}
    return job_from_data({**data, **extra})


def node(name: str, labels: dict[str, str] | None = None) -> Node:
    return Node(
        name=name,
        address="10.0.0.1",
        api_url="http://x",
        capacity=Resources(memory=GiB, disk=GiB),
        started_at=0,
        labels=labels or {},
    )


def test_a_system_job_has_no_instance_count() -> None:
    spec = load_job(AGENT)
    assert spec.is_system and spec.num_instances == 0
    assert "numInstances" not in spec_notation(spec)
    assert spec_notation(spec)["type"] == "system"
    # Read back from etcd (no limits), its stored count of 0 is accepted.
    assert JobSpec.model_validate(spec.model_dump(by_alias=True)) == spec


def test_a_submitted_system_job_may_not_say_how_many() -> None:
    with pytest.raises(SpecError) as refused:
        system_spec(numInstances=3)
    assert [p.path for p in refused.value.problems] == ["numInstances"]
    assert "numInstances does not apply" in str(refused.value.problems[0])


def test_a_system_job_mounts_no_shared_volume() -> None:
    volume = {"path": "/data", "type": "shared", "space": "1G"}
    with pytest.raises(SpecError) as refused:
        system_spec(containers={"app": {"image": "t:1", "volumes": [volume]}})
    assert "local volumes only" in str(refused.value.problems[0])


def test_a_service_job_is_still_the_default() -> None:
    assert load_job("name: web\ncontainers: {app: {image: w:1}}\n").type == "service"


def service_with(job: JobRecord | None) -> tuple[JobService, Etcd]:
    truth = PlanningInputs(
        nodes=[node("n1")],
        allocations={},
        job=job,
        job_revision=3 if job else 0,
        schedule=None,
        schedule_revision=0,
    )
    etcd = Etcd(truth)
    jobs = JobService(
        cast(ClusterStore, etcd), cast(ClusterMirrors, Mirrors(truth)), node_name="n1"
    )
    return jobs, etcd


async def test_scaling_a_system_job_is_refused() -> None:
    jobs, etcd = service_with(JobRecord(spec=load_job(AGENT)))
    with pytest.raises(JobRejected) as refused:
        await jobs.scale("agent", 3)
    assert (refused.value.kind, refused.value.status) == ("not-scalable", 422)
    assert etcd.commits == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(AGENT, AGENT.replace("type: system\n", ""), id="system to service"),
        pytest.param(AGENT.replace("type: system\n", ""), AGENT, id="service to system"),
    ],
)
async def test_a_job_keeps_its_type(before: str, after: str) -> None:
    jobs, etcd = service_with(JobRecord(spec=load_job(before)))
    with pytest.raises(JobRejected) as refused:
        await jobs.apply(load_job(after))
    assert (refused.value.kind, refused.value.status) == ("type-changed", 409)
    assert etcd.commits == []


async def test_a_submitted_system_job_lands_on_its_nodes() -> None:
    jobs, _ = service_with(None)
    result = await jobs.apply(load_job(AGENT))
    assert result.schedule.placements == {0: "n1"}
    assert result.schedule.nodes == {0: "n1"}


def test_a_system_job_rolls_out_in_place_without_canaries() -> None:
    spec = system_spec(update={"canary": 1, "max_parallel": 1})
    old = system_spec()
    job = JobRecord(spec=spec, version=2, older={1: old}, stable_version=1)
    before = Schedule(job="web", placements={0: "n1", 1: "n1"}, versions={0: 1, 1: 1})
    step = next_step(state(before, deployment(desired=2), job=job))
    assert step is not None
    assert step.schedule.surge == {}  # neither a canary nor a surge instance beside it
    assert step.schedule.versions == {1: 1}  # one at a time (max_parallel 1), on its node
    assert step.deployment.placed == {0: NOW}


def test_system_instances_stop_once_the_services_left_the_node() -> None:
    drains = {"n1": Drain(node="n1", started_at=0, deadline=NOW + 60)}
    service_on_n1 = Schedule(job="web", placements={0: "n1"})
    assert system_ready_to_stop(drains, [service_on_n1], NOW) == []
    assert system_ready_to_stop(drains, [Schedule(job="web", placements={0: "n2"})], NOW) == ["n1"]
    assert system_ready_to_stop(drains, [service_on_n1], NOW + 61) == ["n1"]  # the deadline


def test_stopping_a_system_instance_leaves_nothing_pending() -> None:
    schedule = Schedule(job="agent", placements={0: "n1", 1: "n2"}, nodes={0: "n1", 1: "n2"})
    stopped = stop_system_on(schedule, ["n1"], Resources(memory=64 * MB))
    assert stopped is not None
    after, delta, indices = stopped
    assert (after.placements, after.nodes, after.pending) == ({1: "n2"}, {1: "n2"}, {})
    assert delta == {"n1": Resources(memory=-64 * MB)}
    assert indices == [0]
    assert stop_system_on(after, ["n1"], Resources()) is None


def test_the_reconciler_plans_only_what_changes() -> None:
    record = JobRecord(spec=load_job(AGENT), version=1)
    placed = Schedule(job="agent", placements={0: "n1"}, nodes={0: "n1"}, job_version=1)
    inputs = PlanningInputs(
        nodes=[node("n1"), node("n2")],
        allocations={"n1": (Resources(memory=64 * MB), 1)},
        job=record,
        job_revision=3,
        schedule=placed,
        schedule_revision=4,
    )
    placement = plan_system_job(inputs)
    assert placement is not None and placement.result.placed == {1: "n2"}
    settled = placement.result.schedule
    again = PlanningInputs(
        nodes=inputs.nodes,
        allocations={"n1": (Resources(memory=64 * MB), 1), "n2": (Resources(memory=64 * MB), 1)},
        job=record,
        job_revision=3,
        schedule=settled,
        schedule_revision=5,
    )
    assert plan_system_job(again) is None


def test_the_plan_shows_the_type() -> None:
    diff = diff_specs(None, load_job(AGENT))
    assert [(c.op, c.field, c.new) for c in diff.fields if c.field == "type"] == [
        ("+", "type", "system")
    ]
    assert not any(c.field == "numInstances" for c in diff.fields)


async def test_a_new_version_keeps_every_instance_on_its_node_to_roll_out_in_place() -> None:
    current = JobRecord(spec=load_job(AGENT), version=1)
    on_both = Schedule(job="agent", placements={0: "n1", 1: "n2"}, nodes={0: "n1", 1: "n2"})
    truth = PlanningInputs(
        nodes=[node("n1"), node("n2")],
        allocations={name: (Resources(memory=64 * MB), 1) for name in ("n1", "n2")},
        job=current,
        job_revision=3,
        schedule=on_both,
        schedule_revision=4,
    )
    etcd = Etcd(truth)
    jobs = JobService(
        cast(ClusterStore, etcd), cast(ClusterMirrors, Mirrors(truth)), node_name="n1"
    )
    result = await jobs.apply(load_job(AGENT.replace("tools:1", "tools:2")))
    assert result.job.version == 2
    assert result.placed == {} and result.stopped == []
    assert result.schedule.placements == on_both.placements
    assert result.schedule.versions == {0: 1, 1: 1}  # the deployment replaces them in place


def test_the_replacer_leaves_a_system_job_to_its_reconciler() -> None:
    lost = Schedule(job="agent", placements={0: "gone"}, nodes={0: "gone"})
    inputs = PlanningInputs(
        nodes=[node("n1")],
        allocations={"gone": (Resources(memory=64 * MB), 1)},
        job=JobRecord(spec=load_job(AGENT), version=1),
        job_revision=3,
        schedule=lost,
        schedule_revision=4,
    )
    assert plan_replacement(inputs) is None
    placement = plan_system_job(inputs)  # the reconciler: gone with its node, placed on n1
    assert placement is not None
    plan = placement.result
    assert plan.schedule.placements == {1: "n1"} and plan.schedule.pending == {}
    assert plan.allocation_delta == {
        "gone": Resources(memory=-64 * MB),
        "n1": Resources(memory=64 * MB),
    }
