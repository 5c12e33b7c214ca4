"""End-to-end placement: plan each job and commit it to a real etcd, as a scheduler does.

Simulated nodes are `Node` records registered in a throwaway etcd, with no
containers and no daemons behind them. One scheduler process then submits jobs
one after another through the real path: `PlanningInputs` -> `ClusterView` ->
`plan_all_or_nothing` -> `ClusterStore.commit`, one transaction per job guarded
by the revisions it was planned from. Like a long-lived scheduler, it reads
the cluster once and then keeps its view and its inputs current itself,
folding each won commit in (`ClusterView.apply`, `PlanningInputs.record_commit`)
instead of re-reading every node's allocation total for every job.

    .venv/bin/python bench/placement.py            # small: 500 nodes, 100 jobs x 100 instances
    .venv/bin/python bench/placement.py --c1m      # 5,000 nodes, 1,000 jobs x 1,000 instances
    .venv/bin/python bench/placement.py --check    # also check the invariants on etcd's data
    .venv/bin/python bench/placement.py --mixed    # CPU in every fit, busy nodes in ranking,
                                                   # and a system job on every node
    .venv/bin/python bench/placement.py --tls      # etcd over TLS, client certificates, auth on
    .venv/bin/python bench/placement.py --compare-tls 3   # plain and TLS alternately, 3 each

Prints placements/s, the total time, the compute (planning) share against the
etcd commit share, this process's peak RSS and etcd's db size. `--compare-tls`
runs the scenario on a fresh plain etcd and on a fresh TLS one (client
certificates required, etcd's auth on, as `ozy node run --etcd-cert ... --etcd-user`
reaches it) in turn, and prints each run's placements/s and the ratio of the
medians: TLS must stay within 15% of plain text. For scale:
Nomad's C1M run (2016) placed 1,000,000 containers on 5,000 hosts in under 5
minutes, 3,750 placements/s, on 5 servers; kube-scheduler's scheduler_perf
floor is 270 pods/s at 5,000 nodes. The goal here is 3,750 placements/s end to
end on one machine, etcd included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.machine import free_port  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

from ozymandias.cluster.records import JobRecord, Node, Resources, Schedule  # noqa: E402
from ozymandias.jobs.planning import pod_size  # noqa: E402
from ozymandias.scheduling import (  # noqa: E402
    ClusterView,
    Rejection,
    check_invariants,
    plan_all_or_nothing,
    request_from_spec,
)
from ozymandias.scheduling.system import plan_system  # noqa: E402
from ozymandias.spec.models import JobSpec  # noqa: E402
from ozymandias.store import keys  # noqa: E402
from ozymandias.store.cluster_store import ClusterStore  # noqa: E402
from ozymandias.store.etcd import Etcd, Put  # noqa: E402
from ozymandias.tls.certificates import (  # noqa: E402
    CA_CERT_FILE,
    create_ca,
    create_node_certificate,
)
from ozymandias.tls.settings import EtcdSecurity  # noqa: E402

GIB = 1024**3
ZONES = ("zone-a", "zone-b", "zone-c", "zone-d", "zone-e")
NODE_MEMORY = "64G"
NODE_DISK = "500G"
POD_MEMORY = ("128M", "192M", "256M")  # 1M pods of 192M on average use 59% of C1M's memory
POD_DISK = ("100M", "250M", "500M")
PINNED_EVERY = 5  # one job in five must run in one zone (affinity zone In [...])
# --mixed: cores per node, and cpus per container for one job in two (1M pods of 0.04 cores
# on average, half of them asking, use 39% of C1M's 160,000 cores); one node in ten busy.
NODE_CORES = 32
POD_CPUS = (0.05, 0.1, 0.1)
BUSY_EVERY = 10
BUSY_LOAD = 1.5

REGISTER_BATCH = 1000  # node records per registration transaction
COMPACT_EVERY = 100  # jobs between compactions of etcd's history
MAX_ATTEMPTS = 10  # commits of one job before giving up (only a foreign writer makes it lose)
LEASE_TTL = 24 * 3600  # the simulated nodes' lease: long enough that it never needs refreshing
QUOTA_BYTES = 8 * GIB
COMMIT_TIMEOUT = 30  # seconds; one commit of a 1,000-instance job is far quicker
TLS_GOAL = 0.85  # TLS placements/s at least this share of plain text's
ROOT_PASSWORD = "bench-root"


@dataclass(frozen=True)
class Scenario:
    name: str
    nodes: int
    jobs: int
    instances: int
    mixed: bool = False  # CPU and load too (--mixed)


SMALL = Scenario("small", nodes=500, jobs=100, instances=100)
C1M = Scenario("C1M", nodes=5000, jobs=1000, instances=1000)


@dataclass
class Figures:
    """What one run measured; times are wall-clock seconds unless noted."""

    register_seconds: float = 0.0
    read_seconds: float = 0.0  # reading the planning inputs from etcd
    planning_seconds: float = 0.0
    commit_seconds: float = 0.0
    commit_cpu_seconds: float = 0.0  # this process's CPU time inside commits (encode, gRPC)
    compaction_seconds: float = 0.0
    total_seconds: float = 0.0
    placements: int = 0
    rejections: int = 0
    lost_commits: int = 0
    touched_nodes: int = 0  # allocation totals written, summed over commits
    peak_rss_bytes: int = 0
    etcd_peak_rss_bytes: int = 0
    db_size: int = 0
    db_size_in_use: int = 0
    violations: list[str] | None = None


class EtcdProcess:
    """A throwaway single-member etcd on loopback, in its own data dir.

    With `tls`, it serves clients over TLS only, requires their certificates
    (made here by `ozymandias.tls.certificates`) and has auth on: the
    scheduler logs in as user `bench`, whose role may read and write /ozy/.
    """

    def __init__(self, data_dir: Path, *, tls: bool = False) -> None:
        self.data_dir = data_dir
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{free_port()}"
        self._peer = f"http://127.0.0.1:{free_port()}"
        self._process: subprocess.Popen[bytes] | None = None
        self.security = EtcdSecurity()
        self._server_tls: list[str] = []
        self._client_tls: list[str] = []
        self._auth_on = False
        if tls:
            self._make_certificates(data_dir.parent / "certs")

    def _make_certificates(self, certs: Path) -> None:
        create_ca(certs / "ca")
        for name in ("etcd", "bench", "etcdctl"):
            create_node_certificate(certs / "ca", name, certs)
        ca = certs / "ca" / CA_CERT_FILE
        password = certs / "bench-password"
        password.write_text("bench-password\n")
        self.security = EtcdSecurity(
            cacert=ca,
            cert=certs / "bench.pem",
            key=certs / "bench-key.pem",
            user="bench",
            password_file=password,
        )
        self._server_tls = [
            f"--cert-file={certs / 'etcd.pem'}",
            f"--key-file={certs / 'etcd-key.pem'}",
            f"--trusted-ca-file={ca}",
            "--client-cert-auth",
            # The scheduler logs in once; etcdctl (the compactions) at every call,
            # and etcd's default cost would bill the bench's own chores to TLS.
            "--bcrypt-cost=4",
        ]
        self._client_tls = [
            f"--cacert={ca}",
            f"--cert={certs / 'etcdctl.pem'}",
            f"--key={certs / 'etcdctl-key.pem'}",
        ]

    def start(self) -> None:
        log = (self.data_dir.parent / "etcd.log").open("wb")
        self._process = subprocess.Popen(
            [
                "etcd",
                "--name=bench",
                f"--data-dir={self.data_dir}",
                f"--listen-client-urls={self.url}",
                f"--advertise-client-urls={self.url}",
                f"--listen-peer-urls={self._peer}",
                f"--initial-advertise-peer-urls={self._peer}",
                f"--initial-cluster=bench={self._peer}",
                # A commit writes one allocation total per node it touches.
                "--max-txn-ops=20000",
                f"--quota-backend-bytes={QUOTA_BYTES}",
                *self._server_tls,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C reaches us, and we stop etcd in order
        )
        log.close()
        wait_until(self._answers, timeout=30, what=f"etcd on {self.url}")
        if self.security.user is not None:
            self._enable_auth(self.security.user, self.security.password() or "")

    def _enable_auth(self, user: str, password: str) -> None:
        self.etcdctl("user", "add", f"root:{ROOT_PASSWORD}")
        self.etcdctl("user", "grant-role", "root", "root")
        self.etcdctl("role", "add", "scheduler")
        self.etcdctl("role", "grant-permission", "scheduler", "--prefix=true", "readwrite", "/ozy/")
        self.etcdctl("user", "add", f"{user}:{password}")
        self.etcdctl("user", "grant-role", user, "scheduler")
        self.etcdctl("auth", "enable")
        self._auth_on = True

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"etcd exited with {self._process.returncode}; see its log")
        return self.etcdctl("endpoint", "health", check=False).returncode == 0

    def etcdctl(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["etcdctl", f"--endpoints={self.url}", *self._client_tls, *self._root(), *arguments],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )

    def _root(self) -> list[str]:
        return [f"--user=root:{ROOT_PASSWORD}"] if self._auth_on else []

    def compact(self, revision: int) -> None:
        """Drop history before `revision` (etcd frees the space in the background)."""
        self.etcdctl("compact", str(revision))

    def db_size(self) -> tuple[int, int]:
        """(dbSize, dbSizeInUse) in bytes, from `etcdctl endpoint status`."""
        status: Any = json.loads(self.etcdctl("endpoint", "status", "-w", "json").stdout)
        reply = status[0]["Status"]
        return int(reply["dbSize"]), int(reply.get("dbSizeInUse", reply["dbSize"]))

    def peak_rss(self) -> int:
        """etcd's peak resident set size in bytes (VmHWM), 0 if unknown."""
        if self._process is None:
            return 0
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def build_nodes(count: int, *, mixed: bool = False) -> list[Node]:
    """`mixed`: each node offers 32 cores too, and one in ten reports a load past its
    threshold, so CPU counts in every fit and the load penalty in every ranking."""
    capacity = Resources(memory=64 * GIB, disk=500 * GIB, cpu=NODE_CORES * 1000 if mixed else 0)
    now = time.time()
    return [
        Node(
            name=f"node-{i:05d}",
            address=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            api_url=f"http://10.{i // 65536}.{i // 256 % 256}.{i % 256}:7070",
            labels={"zone": ZONES[i % len(ZONES)]},
            capacity=capacity,
            started_at=now,
            load=BUSY_LOAD if mixed and i % BUSY_EVERY == 0 else 0.0,
        )
        for i in range(count)
    ]


def build_jobs(scenario: Scenario, rng: random.Random, *, mixed: bool = False) -> list[JobSpec]:
    """`mixed`: first a system job (a log shipper on every node), and every other job's
    container asks for CPU (`cpus`) as well."""
    jobs = []
    if mixed:
        shipper = {"image": "localhost/ozy-example-tools:latest", "memory": "64M", "cpus": 0.05}
        jobs.append(
            JobSpec.model_validate(
                {"name": "log-shipper", "type": "system", "containers": {"shipper": shipper}}
            )
        )
    for i in range(scenario.jobs):
        affinity = []
        if i % PINNED_EVERY == 0:
            zone = ZONES[i // PINNED_EVERY % len(ZONES)]
            affinity.append({"key": "zone", "operator": "In", "values": [zone]})
        volume = {"type": "local", "path": "/data", "space": rng.choice(POD_DISK)}
        container: dict[str, Any] = {
            "image": "localhost/ozy-example-web:latest",
            "memory": rng.choice(POD_MEMORY),
            "volumes": [volume],
        }
        if mixed and i % 2 == 0:
            container["cpus"] = rng.choice(POD_CPUS)
        jobs.append(
            JobSpec.model_validate(
                {
                    "name": f"job-{i:04d}",
                    "numInstances": scenario.instances,
                    "containers": {"app": container},
                    "affinity": affinity,
                }
            )
        )
    return jobs


async def register_nodes(store: ClusterStore, nodes: list[Node]) -> None:
    """Publish every node record under one lease, many per transaction."""
    lease = await store.etcd.grant_lease(LEASE_TTL)
    for start in range(0, len(nodes), REGISTER_BATCH):
        batch = nodes[start : start + REGISTER_BATCH]
        puts = [Put(keys.node(node.name), node.to_json(), lease=lease) for node in batch]
        outcome = await store.etcd.transaction([], puts)
        assert outcome.applied


async def place_all(
    store: ClusterStore,
    server: EtcdProcess,
    jobs: list[JobSpec],
    figures: Figures,
    *,
    reread: bool = False,
) -> None:
    """Place every job as one long-lived scheduler would; fill in `figures`.

    With `reread`, the planning inputs are read from etcd again for every job
    (as `JobService` does after a lost race) instead of being kept current.
    """
    clock = time.perf_counter
    started = clock()
    inputs = await store.read_planning_inputs(jobs[0].name)
    view = ClusterView.from_records(inputs.nodes, inputs.allocated(), inputs.cordoned)
    figures.read_seconds = clock() - started
    last_revision = 0

    for number, spec in enumerate(jobs, start=1):
        if reread and number > 1:
            reading = clock()
            inputs = await store.read_planning_inputs(spec.name)
            view = ClusterView.from_records(inputs.nodes, inputs.allocated(), inputs.cordoned)
            figures.read_seconds += clock() - reading
        # Every job is new: no record and no schedule, so both guards say "absent".
        # The basis shares `inputs.allocations`, which `record_commit` keeps current.
        basis = replace(
            inputs, job=None, job_revision=0, schedule=None, schedule_revision=0, instance_states={}
        )
        for _ in range(MAX_ATTEMPTS):
            planning = clock()
            result = (
                plan_system(request_from_spec(spec), basis.schedule, view)
                if spec.is_system
                else plan_all_or_nothing(
                    request_from_spec(spec),
                    basis.schedule,
                    view,
                    instance_states=basis.instance_states,
                )
            )
            record = JobRecord(spec=spec, version=1, submitted_at=time.time())
            committing = clock()
            figures.planning_seconds += committing - planning
            if isinstance(result, Rejection):
                figures.rejections += 1
                print(f"  {spec.name} rejected: {result.title}: {result.detail}")
                break
            cpu = time.process_time()
            outcome = await store.commit(
                spec.name,
                basis,
                job=record,
                schedule=result.schedule,
                allocation_changes=result.allocation_delta,
                nodes_that_must_exist=sorted(set(result.placed.values())),
            )
            figures.commit_cpu_seconds += time.process_time() - cpu
            figures.commit_seconds += clock() - committing
            if outcome.won and outcome.revision:
                view.apply(result.allocation_delta)
                inputs.record_commit(result.allocation_delta, outcome.revision)
                figures.placements += len(result.placed)
                figures.touched_nodes += len(result.allocation_delta)
                last_revision = outcome.revision
                break
            if not outcome.won:
                figures.lost_commits += 1
            # Lost a race, or won without learning the revision: re-read, as JobService does.
            reading = clock()
            inputs = basis = await store.read_planning_inputs(spec.name)
            view = ClusterView.from_records(inputs.nodes, inputs.allocated(), inputs.cordoned)
            figures.read_seconds += clock() - reading
            if outcome.won:
                figures.placements += len(result.placed)
                figures.touched_nodes += len(result.allocation_delta)
                break
        else:
            raise RuntimeError(f"{spec.name}: gave up after {MAX_ATTEMPTS} lost commits")

        if number % COMPACT_EVERY == 0 and last_revision:
            compacting = clock()
            server.compact(last_revision)
            figures.compaction_seconds += clock() - compacting

    figures.total_seconds = clock() - started


async def check(store: ClusterStore, instances: int) -> list[str]:
    """Read nodes, allocations, jobs and schedules back from etcd and check the invariants."""
    _, (nodes, allocations, jobs, schedules) = await store.etcd.read_ranges(
        [keys.NODES, keys.ALLOCATIONS, keys.JOBS, keys.SCHEDULES]
    )
    capacities = {
        node.name: node.capacity for node in (Node.from_json(pair.value) for pair in nodes)
    }
    allocated = {
        keys.name_after(keys.ALLOCATIONS, pair.key): Resources.from_json(pair.value)
        for pair in allocations
    }
    pod_sizes = {
        record.spec.name: pod_size(record.spec)
        for record in (JobRecord.from_json(pair.value) for pair in jobs)
    }
    read_back = [Schedule.from_json(pair.value) for pair in schedules]
    violations = check_invariants(capacities, allocated, read_back, pod_sizes)
    violations.extend(
        f"{schedule.job} has {len(schedule.placements)} of {wanted} instances placed"
        for schedule in read_back
        # A system job (its schedule names each instance's node) has one on every node.
        if len(schedule.placements) != (wanted := len(capacities) if schedule.nodes else instances)
    )
    return violations


async def run(scenario: Scenario, server: EtcdProcess, *, verify: bool, reread: bool) -> Figures:
    figures = Figures()
    etcd = Etcd(server.url, security=server.security, timeout=COMMIT_TIMEOUT)
    store = ClusterStore(etcd)
    try:
        registering = time.perf_counter()
        await register_nodes(store, build_nodes(scenario.nodes, mixed=scenario.mixed))
        figures.register_seconds = time.perf_counter() - registering
        jobs = build_jobs(scenario, random.Random(42), mixed=scenario.mixed)

        await place_all(store, server, jobs, figures, reread=reread)
        figures.peak_rss_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        figures.etcd_peak_rss_bytes = server.peak_rss()
        figures.db_size, figures.db_size_in_use = server.db_size()
        if verify:
            figures.violations = await check(store, scenario.instances)
    finally:
        await etcd.close()
    return figures


def report(
    scenario: Scenario, figures: Figures, data_dir: Path, *, reread: bool, tls: bool
) -> None:
    total = figures.total_seconds
    rate = figures.placements / total if total else 0.0
    pinned = len(range(0, scenario.jobs, PINNED_EVERY))
    reading = "  every job" if reread else "  once, then kept current"
    waiting = figures.commit_seconds - figures.commit_cpu_seconds
    other = (
        total
        - figures.planning_seconds
        - figures.commit_seconds
        - figures.compaction_seconds
        - figures.read_seconds
    )

    def share(seconds: float) -> str:
        return f"{seconds:8.2f} s  {100 * seconds / total:5.1f} %" if total else f"{seconds:.2f} s"

    rows = [
        ("scenario", scenario.name),
        ("nodes", f"{scenario.nodes:,} in {len(ZONES)} zones, {NODE_MEMORY} / {NODE_DISK} each"),
        (
            "jobs",
            f"{scenario.jobs:,} x {scenario.instances:,} instances, {pinned} pinned to a zone"
            + (", plus a system job on every node, placed first" if scenario.mixed else ""),
        ),
        ("etcd data dir", f"{data_dir} (removed); one fsync'd commit per job"),
        ("etcd reached", "over TLS, client certificate, auth on" if tls else "in plain text"),
        ("registering nodes", f"{figures.register_seconds:8.2f} s  (setup, not in the total)"),
        ("", ""),
        (
            "placed",
            f"{figures.placements:,} instances; {figures.rejections} jobs rejected, "
            f"{figures.lost_commits} commits lost",
        ),
        ("placements/s", f"{rate:,.0f}  (goal 3,750: Nomad C1M; kube-scheduler floor 270)"),
        ("total time", f"{total:8.2f} s"),
        ("  compute (planning)", share(figures.planning_seconds)),
        ("  etcd commit", share(figures.commit_seconds)),
        ("    client CPU", share(figures.commit_cpu_seconds) + "  encoding, gRPC"),
        ("    waiting on etcd", share(waiting)),
        ("  reading inputs", share(figures.read_seconds) + reading),
        ("  compaction", share(figures.compaction_seconds)),
        ("  other", share(other) + "  bookkeeping, loop"),
        ("allocation writes", f"{figures.touched_nodes:,} (node totals, summed over commits)"),
        ("scheduler peak RSS", f"{figures.peak_rss_bytes / 2**20:,.0f} MiB"),
        ("etcd peak RSS", f"{figures.etcd_peak_rss_bytes / 2**20:,.0f} MiB"),
        (
            "etcd db size",
            f"{figures.db_size / 2**20:,.1f} MiB "
            f"({figures.db_size_in_use / 2**20:,.1f} MiB in use; history compacted "
            f"every {COMPACT_EVERY} jobs)",
        ),
    ]
    if figures.violations is not None:
        found = figures.violations
        rows.append(("invariants", "ok" if not found else f"{len(found)} violations"))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}" if label else "")
    for violation in (figures.violations or [])[:10]:
        print("  " + violation)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_on_fresh_etcd(
    scenario: Scenario, *, tls: bool, verify: bool, reread: bool, tmp: Path | None
) -> tuple[Figures, Path]:
    """One run on an etcd of its own, removed after."""
    work = Path(tempfile.mkdtemp(prefix="ozy-bench-placement-", dir=tmp))
    server = EtcdProcess(work / "etcd", tls=tls)
    try:
        server.start()
        return asyncio.run(run(scenario, server, verify=verify, reread=reread)), work
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def compare_tls(scenario: Scenario, rounds: int, *, reread: bool, tmp: Path | None) -> bool:
    """Plain and TLS in turn (the order swapped each round, so drift hits both alike)."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    commits: dict[bool, list[float]] = {False: [], True: []}
    print(f"scenario {scenario.name}, {rounds} rounds of plain text and TLS, alternating")
    for number in range(rounds):
        for tls in (False, True) if number % 2 == 0 else (True, False):
            figures, _ = run_on_fresh_etcd(scenario, tls=tls, verify=False, reread=reread, tmp=tmp)
            if figures.lost_commits or figures.rejections:
                raise RuntimeError(f"round {number + 1}: commits lost or jobs rejected")
            rate = figures.placements / figures.total_seconds
            rates[tls].append(rate)
            commits[tls].append(figures.commit_seconds)
            label = "TLS + auth" if tls else "plain"
            print(
                f"  round {number + 1}  {label:<10}  {rate:>9,.0f} placements/s  "
                f"total {figures.total_seconds:6.2f} s  "
                f"etcd commit {figures.commit_seconds:6.2f} s",
                flush=True,
            )
    plain, tls_rate = statistics.median(rates[False]), statistics.median(rates[True])
    ratio = tls_rate / plain
    print(f"median placements/s   plain {plain:,.0f}   TLS + auth {tls_rate:,.0f}")
    print(
        f"median etcd commit s  plain {statistics.median(commits[False]):.2f}   "
        f"TLS + auth {statistics.median(commits[True]):.2f}"
    )
    verdict = "within" if ratio >= TLS_GOAL else "NOT within"
    print(f"TLS / plain           {ratio:.3f}  ({verdict} 15% of plain text)")
    return ratio >= TLS_GOAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true", help="500 nodes, 100 x 100 (the default)")
    size.add_argument("--c1m", action="store_true", help="5,000 nodes, 1,000 jobs x 1,000")
    parser.add_argument("--check", action="store_true", help="check the invariants at the end")
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="nodes offer CPU and one in ten is busy; half the jobs ask for CPU",
    )
    parser.add_argument(
        "--reread",
        action="store_true",
        help="re-read nodes and allocations from etcd for every job instead of keeping them",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--tls",
        action="store_true",
        help="etcd over TLS, requiring client certificates, with etcd's auth on",
    )
    mode.add_argument(
        "--compare-tls",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="run plain and TLS alternately, ROUNDS times each, and print the ratio",
    )
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where etcd's data dir goes (default: $TMPDIR)"
    )
    args = parser.parse_args()
    scenario = C1M if args.c1m else SMALL
    if args.mixed:
        scenario = replace(scenario, name=f"{scenario.name} + CPU and load", mixed=True)

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        if args.compare_tls:
            within = compare_tls(scenario, args.compare_tls, reread=args.reread, tmp=args.tmp)
            return 0 if within else 1
        figures, work = run_on_fresh_etcd(
            scenario, tls=args.tls, verify=args.check, reread=args.reread, tmp=args.tmp
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    report(scenario, figures, work, reread=args.reread, tls=args.tls)
    return 1 if figures.violations else 0


if __name__ == "__main__":
    sys.exit(main())
