"""A preempting commit (store/job_commit.py): the victims' schedules are written in the job's
own transaction, each guarded by its job's and schedule's revisions as read."""

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule
from ozymandias.spec.loader import load_job
from ozymandias.store import keys
from ozymandias.store.etcd import Put, Unchanged
from ozymandias.store.job_commit import job_transaction
from ozymandias.store.planning_inputs import OtherJob, PlanningInputs

GiB = 1024**3
NODE = Node(
    name="n1",
    address="10.0.0.1",
    api_url="http://10.0.0.1:7070",
    capacity=Resources(memory=GiB, disk=GiB),
    started_at=0,
)
BIG = load_job("name: big\npriority: 80\ncontainers: {app: {image: big:1, memory: 512M}}\n")
LOW = load_job("name: low\npriority: 10\ncontainers: {app: {image: low:1, memory: 256M}}\n")


def basis() -> PlanningInputs:
    low_schedule = Schedule(job="low", placements={0: "n1", 1: "n1"})
    return PlanningInputs(
        nodes=[NODE],
        allocations={"n1": (Resources(memory=GiB), 40)},
        job=None,
        job_revision=0,
        schedule=None,
        schedule_revision=0,
        preempting_types=frozenset({"service"}),
        others={"low": OtherJob(JobRecord(spec=LOW), 11, low_schedule, 12, False, 13)},
    )


def test_the_victims_schedules_are_written_and_guarded() -> None:
    preempted = Schedule(job="low", pending={0: "preempted by big (priority 80)"})
    transaction = job_transaction(
        "big",
        basis(),
        job=JobRecord(spec=BIG),
        schedule=Schedule(job="big", placements={0: "n1"}),
        allocation_changes={"n1": Resources()},
        nodes_that_must_exist=["n1"],
        preempted={"low": preempted},
    )
    assert Unchanged(keys.job("low"), 11) in transaction.guards
    assert Unchanged(keys.schedule("low"), 12) in transaction.guards
    assert Unchanged(keys.deployment("low"), 13) in transaction.guards
    assert Unchanged(keys.allocation("n1"), 40) in transaction.guards
    assert Put(keys.schedule("low"), preempted.to_json()) in transaction.operations
    # One write per key: the node's total takes the job's and the victims' changes together.
    written = [op.key for op in transaction.operations if isinstance(op, Put)]
    assert len(written) == len(set(written))


def test_without_victims_no_other_job_is_touched() -> None:
    transaction = job_transaction(
        "big",
        basis(),
        job=JobRecord(spec=BIG),
        schedule=Schedule(job="big", placements={0: "n1"}),
        allocation_changes={"n1": Resources(memory=512 * 1024**2)},
        nodes_that_must_exist=["n1"],
    )
    touched = {guard.key for guard in transaction.guards} | {
        op.key for op in transaction.operations
    }
    assert keys.job("low") not in touched
    assert keys.schedule("low") not in touched
