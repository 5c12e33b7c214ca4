"""Cross-node propagation: a health change on one real node, seen by two others (issue #21).

Three real `ozy node run` daemons, h1 (A), h2 (B) and h3 (C), each a host of the
multi-host harness (tests/support/hosts.py: its own network namespace, PIDs and
podman, on a bridge), follow one etcd that holds the small scenario of
bench/control_plane.py written in directly (`--nodes` simulated nodes, `--jobs`
jobs of `--per-job` instances, their statuses and DNS records).

Two paths, `--flips` health changes each (half down, half up), one at a time:

- **real**: one instance of the example web image runs on A, with an HTTP check
  every `--check-interval` seconds (one failure makes it unhealthy, one pass
  healthy, and `restart: "no"` leaves it running outside DNS). The bench makes
  its check fail and pass by creating and removing /tmp/unhealthy in the
  container (through /proc/PID/root). A's agent sees it at its next check and
  writes the status and the DNS records, as it would in production.
- **simulated**: the scenario's probe instance, on a simulated node, flipped by
  writing its status and DNS records straight to etcd, as bench/control_plane_flips.py
  does (its pod IP is A's real pod, so the ingress has something to route to).

The clocks, all this process's perf_counter:

- `flip`: the file created or removed (real), or just before the write (simulated);
- `write`: the status change delivered by an etcd watch of this bench, a
  millisecond or so after the commit, as the nodes' own watches receive it;
- `seen`: each node's DNS answer for the instance's name appearing or going
  (dnspython, polled every 5 ms through a socket in the host's namespace), and
  its ingress routing the job's Host or answering 503 (polled on port 80).

Printed per path: flip → write (for the real path: the check interval, the
check and A's write), and write → seen per node and kind (the propagation
itself), p50/p99/max; a change not seen within 15 s counts as lost.

    flock /work/integration.lock .venv/bin/python bench/control_plane_cross_node.py
    ... bench/control_plane_cross_node.py --flips 20 --jobs 100   # quicker, smaller

Needs root, etcd, podman and the example images (`make setup`), and no other
multi-host session running (it creates the harness's bridge, ozymh0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

# As in bench/control_plane.py: bench/dns.py must not stand in for dnspython.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))

from tests.support.hosts import EtcdCluster, Host, TestNetwork, known_nodes, leftovers
from tests.support.jobs import WEB_IMAGE
from tests.support.machine import CLUSTER_CIDR, blackholed
from tests.support.simulated_cluster import PROBE_JOB, Scenario, write_cluster
from tests.support.status_flips import FlipTarget, flip
from tests.support.waiting import wait_until

from control_plane import percentile
from cross_node_probes import NodeProbes, StatusWatcher
from ozymandias.cluster.records import Health, instance_name
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, pod_name
from ozymandias.store import keys
from ozymandias.store.etcd import Etcd

JOB = "xn-web"
APP_PORT = 3000  # the example web image's, and so the simulated probe's container port
DNS_PORT = 5353  # each node's DNS on 127.0.0.1 of its host (the default)
FLIP_DEADLINE = 15.0
WARM_UP = 60.0  # for each node to show each job healthy before the flips
KINDS = ("dns", "ingress")


def job_spec(interval: float) -> str:
    return f"""\
name: {JOB}
numInstances: 1
schedulingConstraints: {{mayBeScheduledOn: [h1]}}
containers:
  app:
    image: {WEB_IMAGE}
    memory: 32M
    ports: ["80:{APP_PORT}"]
    restart: "no"
    healthcheck:
      type: http
      port: {APP_PORT}
      path: /healthcheck
      interval: {interval}
      timeout: {min(1.0, interval)}
      healthy_threshold: 1
      unhealthy_threshold: 1
      start_period: 0
"""


@dataclass
class Flip:
    started: float
    write: float | None
    seen: dict[tuple[str, str], float | None]  # (node label, kind) -> perf_counter


@dataclass
class Subject:
    """What one path flips and how the probes recognise it."""

    job: str
    change: Callable[[bool], Awaitable[None]]  # make it healthy (True) or not
    flips: list[Flip] = field(default_factory=list)
    following: list[tuple[NodeProbes, str]] = field(default_factory=list)  # (node, kind)
    not_following: list[str] = field(default_factory=list)  # what never showed it at first

    @property
    def dns_name(self) -> str:
        return pod_name(instance_name(self.job, 0), DEFAULT_DOMAIN)

    @property
    def host(self) -> str:
        return f"{self.job}.localhost"


def start_hosts(work: Path, etcd: EtcdCluster, hosts: list[Host]) -> None:
    """h1..h3, appended to `hosts` before each exists so the caller's cleanup finds it."""
    for index in (1, 2, 3):
        host = Host(
            name=f"h{index}",
            index=index,
            work_dir=work / f"h{index}",
            etcd_endpoints=etcd.endpoints,
        )
        hosts.append(host)
        host.create()
    started = time.perf_counter()
    for host in hosts:
        host.start_daemon(wait=False)
    for host in hosts:
        host.wait_ready()
    names = {host.name for host in hosts}
    wait_until(
        lambda: all(names <= known_nodes(host) for host in hosts),
        timeout=120,
        what="every host to see every other",
    )
    print(f"  3 nodes answering in {time.perf_counter() - started:.1f} s", flush=True)


def deploy(a: Host, interval: float) -> tuple[str, Path]:
    """Run the job on A; its pod IP and the path of the file that fails its check."""
    a.apply(job_spec(interval), JOB)

    def healthy() -> list[dict[str, str]]:
        items: list[dict[str, str]] = a.request("GET", "/v1/instances", params={"job": JOB}).json()
        return [item for item in items if item.get("health") == "healthy"]

    wait_until(healthy, timeout=120, what=f"{JOB} healthy on {a.name}")
    pod_ip = healthy()[0]["podIP"]
    # The container has a PID namespace of its own, inside the host's: it is found by its
    # command and environment (the job's name is this bench's alone), not by `Host.pids`.
    job = f"OZY_JOB={JOB}".encode()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if (
                entry.name.isdigit()
                and b"/srv/entrypoint.sh" in (entry / "cmdline").read_bytes()
                and job in (entry / "environ").read_bytes().split(b"\0")
            ):
                return pod_ip, entry / "root" / "tmp" / "unhealthy"
    raise RuntimeError(f"no process of {JOB}'s container found on {a.name}")


async def warm_up(subject: Subject, probes: list[NodeProbes]) -> None:
    """Which nodes show `subject` healthy at first, in DNS and the ingress; the others are
    left out of its flips (each would wait out every flip's deadline) and reported."""
    for probe in probes:
        for kind in KINDS:
            name = subject.dns_name if kind == "dns" else subject.host
            if await probe.until(kind, name, True, time.perf_counter() + WARM_UP) is not None:
                subject.following.append((probe, kind))
            else:
                answer = await (probe.dns_answers if kind == "dns" else probe.ingress_routes)(name)
                subject.not_following.append(f"{probe.label} {kind} (answers {answer})")
                print(f"  {probe.label}'s {kind} never showed {subject.job}", flush=True)


async def run_flips(
    subject: Subject,
    count: int,
    watcher: StatusWatcher,
    rng: random.Random,
) -> None:
    """`count` changes of `subject`, down then up, each waited for on every node."""
    for number in range(count):
        healthy = number % 2 == 1
        health = Health.HEALTHY if healthy else Health.UNHEALTHY
        started = time.perf_counter()
        await subject.change(healthy)
        deadline = started + FLIP_DEADLINE
        asked = subject.following
        write, *seen = await asyncio.gather(
            watcher.seen(health, started, deadline),
            *(
                probe.until(
                    kind, subject.dns_name if kind == "dns" else subject.host, healthy, deadline
                )
                for probe, kind in asked
            ),
        )
        subject.flips.append(
            Flip(
                started,
                write,
                {(probe.label, kind): at for (probe, kind), at in zip(asked, seen, strict=True)},
            )
        )
        # Apart from each other, and out of step with the check's interval.
        await asyncio.sleep(0.2 + rng.random() * 0.3)


async def measure(
    etcd_url: str, probe: FlipTarget, lease: int, pod_ip: str, marker: Path, hosts: list[Host],
    count: int,
) -> tuple[Subject, Subject]:  # fmt: skip
    etcd = Etcd(etcd_url, timeout=60)
    rng = random.Random(21)

    async def fail_check(healthy: bool) -> None:
        await asyncio.to_thread(marker.unlink if healthy else marker.touch)

    async def write_status(healthy: bool) -> None:
        assert (probe.status.health == Health.HEALTHY) != healthy
        await flip(etcd, probe, lease)

    real, simulated = Subject(JOB, fail_check), Subject(PROBE_JOB, write_status)
    tasks: list[asyncio.Task[None]] = []
    try:
        # The probe's records now lead to A's pod: out, then back in with its new address;
        # it starts healthy, as the real one.
        probe.status = probe.status.model_copy(update={"pod_ip": pod_ip})
        await flip(etcd, probe, lease)
        await flip(etcd, probe, lease)
        revision, _ = await etcd.scan(keys.instance(JOB, 0))
        watchers = {name: StatusWatcher(etcd, name, 0) for name in (JOB, PROBE_JOB)}
        tasks = [asyncio.create_task(w.follow(revision + 1)) for w in watchers.values()]
        async with contextlib.AsyncExitStack() as stack:
            probes = [
                await stack.enter_async_context(
                    NodeProbes(label, host.netns, host.address, DNS_PORT)
                )
                for label, host in zip("ABC", hosts, strict=True)
            ]
            for subject in (real, simulated):
                await warm_up(subject, probes)
                print(f"  {count} flips of {subject.job}", flush=True)
                await run_flips(subject, count, watchers[subject.job], rng)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await etcd.close()
    return real, simulated


def spread(values: list[float]) -> str:
    if not values:
        return f"{'-':>8}{'-':>8}{'-':>8}"
    ms = [1000 * value for value in values]
    return f"{percentile(ms, 0.5):>8.0f}{percentile(ms, 0.99):>8.0f}{max(ms):>8.0f}"


def report(subject: Subject, label: str) -> None:
    flips = subject.flips
    print(f"\n{label} ({subject.job}, {len(flips)} flips)")
    print(f"{'':<34}{'p50':>8}{'p99':>8}{'max':>8}   ms, n, lost")
    to_write = [f.write - f.started for f in flips if f.write is not None]
    lost = len(flips) - len(to_write)
    print(f"{'flip -> write (etcd watch)':<34}{spread(to_write)}   {len(to_write)}, {lost}")
    for node in "ABC":
        for kind in KINDS:
            if (node, kind) not in {(probe.label, k) for probe, k in subject.following}:
                continue
            after_write, after_flip, lost = [], [], 0
            for f in flips:
                at = f.seen[(node, kind)]
                if at is None or f.write is None:
                    lost += 1
                    continue
                after_write.append(at - f.write)
                after_flip.append(at - f.started)
            name = f"write -> {node} {kind}"
            print(f"{name:<34}{spread(after_write)}   {len(after_write)}, {lost}")
            print(f"{'  flip -> ' + node + ' ' + kind:<34}{spread(after_flip)}")
    for what in subject.not_following:
        print(f"never showed it healthy at first: {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=100, help="simulated nodes")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10)
    parser.add_argument("--flips", type=int, default=50, help="health changes per path")
    parser.add_argument("--check-interval", type=float, default=1.0, help="seconds")
    args = parser.parse_args()
    scenario = Scenario(args.nodes, args.jobs, args.per_job)
    hosts: list[Host] = []
    with (
        blackholed(CLUSTER_CIDR),
        TestNetwork(),
        tempfile.TemporaryDirectory(prefix="ozy-xnode-") as scratch,
    ):
        (Path(scratch) / "etcd").mkdir()
        etcd = EtcdCluster(Path(scratch) / "etcd", members=1)
        try:
            etcd.start()
            etcd.grant_test_admin()
            print(f"scenario: {scenario}", flush=True)
            started = time.perf_counter()
            cluster = asyncio.run(
                write_cluster(etcd.endpoints, scenario, random.Random(21), APP_PORT)
            )
            print(f"  cluster written in {time.perf_counter() - started:.1f} s", flush=True)
            start_hosts(Path(scratch), etcd, hosts)
            pod_ip, marker = deploy(hosts[0], args.check_interval)
            status = next(s for s in cluster.statuses if s.job == PROBE_JOB)
            probe = FlipTarget(status, cluster.addresses[status.node], cluster.ports[PROBE_JOB])
            real, simulated = asyncio.run(
                measure(etcd.endpoints, probe, cluster.lease, pod_ip, marker, hosts, args.flips)
            )
        finally:
            for host in hosts:
                host.destroy()
            etcd.stop()
    report(real, f"real: A's check fails and passes (interval {args.check_interval} s)")
    report(simulated, "simulated: status written straight to etcd")
    left = leftovers()
    print(f"\nleft behind: {left or 'nothing'}")


if __name__ == "__main__":
    main()
