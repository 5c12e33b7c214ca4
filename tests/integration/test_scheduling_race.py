"""Five peers race to submit, scale, update and delete 200 jobs against one real etcd.

Each peer is what a node daemon uses to take requests: its own etcd
connection, `ClusterStore`, live `ClusterMirrors` and `JobService`. The nodes
are simulated (records registered under a lease; no daemons, no podman), so
only scheduling and the compare-and-swap commits are exercised. Capacity is
tight, so some requests must be rejected, and the peers share nodes (and some
jobs), so many commits must lose races and be re-planned.

Afterwards etcd is read back at one revision and checked: the invariants hold,
every job has exactly the instances of the last commit that won for it, and
every node's allocation is the sum of the pods placed on it, within capacity.
The winning commits, as the peers saw them, must also form one chain per job
and per node: each planned from exactly what the previous winner wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from ozymandias.cluster.records import (
    Deployment,
    JobRecord,
    JobVersion,
    Node,
    Resources,
    Schedule,
    SharedVolume,
)
from ozymandias.jobs.errors import JobNotFound, JobRejected
from ozymandias.jobs.planning import pod_size
from ozymandias.jobs.service import JobService
from ozymandias.scheduling.invariants import check_invariants
from ozymandias.spec.loader import job_from_data
from ozymandias.spec.models import JobSpec
from ozymandias.store import keys
from ozymandias.store.cluster_mirrors import ClusterMirrors
from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import Etcd, StoreUnavailable
from ozymandias.store.job_commit import CommitOutcome
from ozymandias.store.planning_inputs import PlanningInputs
from tests.support.cluster import read_cluster
from tests.support.etcd import EtcdServer

MiB = 1024 * 1024
GiB = 1024 * MiB

SEED = 1_873
NODES = 10
NODE_MEMORY = 3 * GiB
NODE_DISK = 10 * GiB
PEERS = 5
JOBS_PER_PEER = 40  # 5 x 40 = 200 jobs
SHARED_PER_PEER = 8  # of each peer's jobs, also submitted (with another spec) by the next peer
SCALES_PER_JOB = 2
IN_FLIGHT_PER_PEER = 3  # concurrent requests a peer serves, as a node's API would
DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class Won:
    """A commit that applied, and the revisions it was planned from."""

    revision: int
    job: str
    record: JobRecord | None  # None: the job was deleted
    job_basis: int
    schedule_basis: int
    allocation_basis: dict[str, int]  # per node whose total it changed


@dataclass
class Tally:
    """What the peers observed: every commit's outcome, and every request's."""

    won: list[Won] = field(default_factory=list)
    lost: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    # How many commits each request that committed took: {attempts: requests}.
    attempts: Counter[int] = field(default_factory=Counter)
    _losses_of: dict[asyncio.Task[object] | None, int] = field(default_factory=dict)

    def committed(self, won: Won) -> None:
        self.won.append(won)
        self.attempts[self._losses_of.pop(asyncio.current_task(), 0) + 1] += 1

    def conflicted(self) -> None:
        self.lost += 1
        task = asyncio.current_task()
        self._losses_of[task] = self._losses_of.get(task, 0) + 1

    def new_request(self) -> None:
        """Forget the losses of the calling task's previous request (one that gave up)."""
        self._losses_of.pop(asyncio.current_task(), None)


class ObservedStore(ClusterStore):
    """The real store, noting each commit's outcome (nothing about the commit is changed)."""

    def __init__(self, etcd: Etcd, tally: Tally) -> None:
        super().__init__(etcd)
        self._tally = tally

    async def commit(
        self,
        job_name: str,
        basis: PlanningInputs,
        *,
        job: JobRecord | None,
        schedule: Schedule | None,
        allocation_changes: Mapping[str, Resources],
        nodes_that_must_exist: list[str],
        volumes: Sequence[SharedVolume] = (),
        shared_allocation_changes: Mapping[str, int] | None = None,
        deployment: Deployment | None = None,
        new_version: JobVersion | None = None,
        preempted: Mapping[str, Schedule] | None = None,
    ) -> CommitOutcome:
        outcome = await super().commit(
            job_name,
            basis,
            job=job,
            schedule=schedule,
            allocation_changes=allocation_changes,
            nodes_that_must_exist=nodes_that_must_exist,
            volumes=volumes,
            shared_allocation_changes=shared_allocation_changes,
            deployment=deployment,
            new_version=new_version,
            preempted=preempted,
        )
        if outcome.won:
            self._tally.committed(
                Won(
                    revision=outcome.revision,
                    job=job_name,
                    record=job,
                    job_basis=basis.job_revision,
                    schedule_basis=basis.schedule_revision,
                    allocation_basis={
                        node: basis.allocations.get(node, (Resources(), 0))[1]
                        for node in allocation_changes
                    },
                )
            )
        else:
            self._tally.conflicted()
        return outcome


@dataclass
class Peer:
    name: str
    etcd: Etcd
    store: ClusterStore
    mirrors: ClusterMirrors
    service: JobService
    tasks: list[asyncio.Task[None]]


@contextlib.asynccontextmanager
async def simulated_nodes(url: str) -> AsyncIterator[dict[str, Node]]:
    """NODES node records in etcd under one lease, revoked on the way out."""
    etcd = Etcd(url)
    lease = 0
    try:
        lease = await etcd.grant_lease(120)
        store = ClusterStore(etcd)
        nodes = {}
        for n in range(NODES):
            node = Node(
                name=f"sim-{n:02d}",
                address="127.0.0.1",
                api_url="http://127.0.0.1:9",
                labels={"zone": "abc"[n % 3], "region": "r1"},
                capacity=Resources(memory=NODE_MEMORY, disk=NODE_DISK),
                started_at=time.time(),
            )
            assert await store.register_node(node, lease)
            nodes[node.name] = node
        yield nodes
    finally:
        if lease:
            with contextlib.suppress(StoreUnavailable):
                await etcd.revoke_lease(lease)
        await etcd.close()


@contextlib.asynccontextmanager
async def running_peers(url: str, tally: Tally) -> AsyncIterator[list[Peer]]:
    """PEERS job services, each with its own connection and mirrors, as separate nodes have."""
    peers: list[Peer] = []
    try:
        for p in range(PEERS):
            etcd = Etcd(url)
            store = ObservedStore(etcd, tally)
            mirrors = store.mirrors()
            tasks = [asyncio.create_task(mirror.run()) for mirror in mirrors.all()]
            service = JobService(store, mirrors, node_name=f"peer-{p}")
            peers.append(Peer(f"peer-{p}", etcd, store, mirrors, service, tasks))
        async with asyncio.timeout(15):
            for peer in peers:
                await peer.mirrors.wait_synced()
        yield peers
    finally:
        for peer in peers:
            for task in peer.tasks:
                task.cancel()
            await asyncio.gather(*peer.tasks, return_exceptions=True)
            await peer.etcd.close()


def job_spec(name: str, count: int, pod_memory_mib: int, generation: int = 0) -> JobSpec:
    app = {
        "image": "localhost/ozy-example-web:latest",
        "memory": f"{pod_memory_mib}M",
        "environment": {"GENERATION": str(generation)},
    }
    return job_from_data({"name": name, "numInstances": count, "containers": {"app": app}})


def job_name(index: int) -> str:
    return f"race-{index:03d}"


async def job_script(
    peer: Peer, name: str, rng: random.Random, gate: asyncio.Semaphore, tally: Tally
) -> None:
    """Submit one job, then scale and update it (and maybe delete it), counting outcomes."""
    later = [("scale", rng.randint(0, 8)) for _ in range(SCALES_PER_JOB)]
    if rng.random() < 0.5:
        later.append(("update", rng.randint(1, 1_000_000)))
    rng.shuffle(later)
    steps = [("submit", rng.randint(1, 6)), *later]
    if rng.random() < 0.1:
        steps.append(("delete", 0))
    pod_memory_mib = rng.choice([32, 48, 64, 96, 128])
    for kind, count in steps:
        async with gate:
            tally.new_request()
            try:
                if kind == "submit":
                    await peer.service.apply(job_spec(name, count, pod_memory_mib))
                elif kind == "scale":
                    await peer.service.scale(name, count)
                elif kind == "update":
                    # New pods of the size and number this peer believes the job
                    # has: often a commit that changes no node's allocation, so
                    # only the job's own revisions guard it.
                    current = peer.mirrors.job(name)
                    instances = current.spec.num_instances if current is not None else 1
                    await peer.service.apply(job_spec(name, instances, pod_memory_mib, count))
                else:
                    await peer.service.delete(name)
            except JobRejected as rejection:
                assert rejection.kind == "insufficient-memory", rejection.detail
                tally.requests[f"{kind} rejected"] += 1
            except JobNotFound:
                tally.requests[f"{kind} of a missing job"] += 1
            except StoreUnavailable:
                tally.requests[f"{kind} gave up"] += 1
            else:
                tally.requests[f"{kind} done"] += 1
        await asyncio.sleep(rng.uniform(0, 0.01))


async def peer_workload(peer_index: int, peer: Peer, tally: Tally) -> None:
    rng = random.Random(SEED * 31 + peer_index)
    own = [job_name(peer_index * JOBS_PER_PEER + i) for i in range(JOBS_PER_PEER)]
    next_peer = (peer_index + 1) % PEERS
    shared = [job_name(next_peer * JOBS_PER_PEER + i) for i in range(SHARED_PER_PEER)]
    names = own + shared
    rng.shuffle(names)
    gate = asyncio.Semaphore(IN_FLIGHT_PER_PEER)
    await asyncio.gather(
        *(job_script(peer, name, random.Random(rng.random()), gate, tally) for name in names)
    )


def mirrored_state(
    mirrors: ClusterMirrors,
) -> tuple[dict[str, Resources], dict[str, JobRecord], dict[str, Schedule]]:
    """Allocations, jobs and schedules as one peer's mirrors have them."""
    return (
        mirrors.allocated(),
        {keys.name_after(keys.JOBS, key): job for key, job in mirrors.jobs.items.items()},
        {
            keys.name_after(keys.SCHEDULES, key): schedule
            for key, schedule in mirrors.schedules.items.items()
        },
    )


async def test_five_peers_racing_on_200_jobs_keep_every_invariant(etcd: EtcdServer) -> None:
    etcd.wipe()
    tally = Tally()
    started = time.monotonic()
    try:
        async with simulated_nodes(etcd.url) as nodes, running_peers(etcd.url, tally) as peers:
            async with asyncio.timeout(DEADLINE_SECONDS):
                await asyncio.gather(
                    *(peer_workload(i, peer, tally) for i, peer in enumerate(peers))
                )
            seen_nodes, allocations, jobs, schedules = await read_cluster(etcd.url)

            # Every peer's mirrors catch up with etcd and then agree with it exactly.
            etcd_state = (allocations, jobs, schedules)
            deadline = time.monotonic() + 15
            for peer in peers:
                while mirrored_state(peer.mirrors) != etcd_state:
                    assert time.monotonic() < deadline, f"{peer.name}'s mirrors differ from etcd"
                    await asyncio.sleep(0.05)
    finally:
        etcd.wipe()
    elapsed = time.monotonic() - started
    summary = (
        f"{dict(tally.requests)}, {len(tally.won)} commits won, {tally.lost} lost, "
        f"attempts per commit {dict(sorted(tally.attempts.items()))}"
    )
    print(f"race: {summary}, in {elapsed:.1f}s")

    # The race really happened: requests were refused for want of room, and
    # peers' commits collided and were re-planned, most of them successfully.
    # A request may exhaust its retries under this much contention (a 503,
    # with nothing written, which the checks below confirm); few may.
    assert tally.requests["submit rejected"] + tally.requests["scale rejected"] > 0, summary
    assert tally.requests["submit done"] > 100, summary
    assert tally.requests["scale done"] > 100, summary
    assert tally.lost > 0, summary
    gave_up = sum(n for kind, n in tally.requests.items() if kind.endswith("gave up"))
    assert gave_up <= 0.01 * tally.requests.total(), summary
    all_names = {job_name(i) for i in range(PEERS * JOBS_PER_PEER)}

    # The winners form one chain per key: each was planned from exactly what the
    # previous winner on that job (and on each node it touched) had written.
    # Two commits planned from the same state can never both have applied.
    won = sorted(tally.won, key=lambda commit: commit.revision)
    revisions = [commit.revision for commit in won]
    assert all(revisions) and len(set(revisions)) == len(revisions), "one revision per commit"
    job_written: dict[str, int] = {}  # the job key's mod revision after each winner (0: absent)
    node_written: dict[str, int] = {}
    versions: dict[str, tuple[int, str]] = {}
    for commit in won:
        before = job_written.get(commit.job, 0)
        assert (commit.job_basis, commit.schedule_basis) == (before, before), commit
        for node, basis in commit.allocation_basis.items():
            assert basis == node_written.get(node, 0), (node, commit)
            node_written[node] = commit.revision
        job_written[commit.job] = commit.revision if commit.record is not None else 0
        # The version goes up exactly when a winner changed what runs in the pods.
        if commit.record is None:
            versions.pop(commit.job, None)
            continue
        fingerprint = commit.record.spec.pod_fingerprint()
        version, previous = versions.get(commit.job, (0, ""))
        assert commit.record.version == version + (fingerprint != previous), commit
        versions[commit.job] = (commit.record.version, fingerprint)

    # Each job is as the last commit that won for it left it (a deletion: gone).
    last: dict[str, JobRecord | None] = {commit.job: commit.record for commit in won}
    expected_counts = {
        name: record.spec.num_instances for name, record in last.items() if record is not None
    }
    assert len(expected_counts) < len(all_names), "some jobs should have been deleted"
    assert jobs == {name: record for name, record in last.items() if record is not None}
    assert seen_nodes == nodes
    assert {name: job.spec.num_instances for name, job in jobs.items()} == expected_counts
    assert set(schedules) == set(jobs)
    for name, schedule in schedules.items():
        count = expected_counts[name]
        assert sorted(schedule.placements) == list(range(count)), (name, schedule)
        assert schedule.pending == {}, (name, schedule)

    # No node holds more than it has, and every total is the sum of its pods.
    pod_sizes = {
        name: pod_size(job.spec)
        for name, job in jobs.items()
    }
    capacities = {name: node.capacity for name, node in nodes.items()}
    assert check_invariants(capacities, allocations, schedules.values(), pod_sizes) == []
    placed: dict[str, Resources] = dict.fromkeys(nodes, Resources())
    for name, schedule in schedules.items():
        for node in schedule.placements.values():
            placed[node] += pod_sizes[name]
    for node_name, capacity in capacities.items():
        allocated = allocations.get(node_name, Resources())
        assert allocated == placed[node_name], node_name
        assert allocated.fits_within(capacity), (node_name, allocated)
    # Capacity was tight: the cluster ended up mostly full.
    used = sum(resources.memory for resources in allocations.values())
    assert used > 0.5 * NODES * NODE_MEMORY, summary
