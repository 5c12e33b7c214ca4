"""How fast a new version rolls out, and whether anyone behind the ingress notices (issue #16).

A job of 6 instances of the example web image (an HTTP check every 0.5 s)
runs behind one node's ingress. Each run rolls it to a new version (a changed
environment variable) with `update: {max_parallel: 1, min_healthy_time: 0}`,
then again with `max_parallel: 3`, while 64 connections send GETs through the
ingress without pause. For each rollout:

- wall: from the PUT of the new version until its deployment is `successful`
  (the deployment record's own time of success, read from etcd);
- ideal: batches × the time one fresh instance takes from placement to its
  first passed check, batches = ceil(6 / max_parallel). That time is measured
  in the same run, under the same load: a separate probe job is scaled from 0
  to 1 a few times, each from the scale request to the instance's
  `healthy_since`; the median counts. Beside it, the same with the probe
  scaled 0 -> max_parallel (until all are healthy), since on two cores a batch
  of pods starts slower than one: wall/batch ideal. And the rollout's own
  starts, from its events ("started X" to "X healthy"), which tell whether
  a gap is the engine's or the pods';
- failed requests (an error or a status other than 200) from the PUT until
  every old pod has left the ingress and 2 s more, and the requests sent;
- the fewest healthy backends the ingress route had meanwhile, polled every 0.1 s
  (GET /v1/ingress: the routes the node's controller computed, not what
  HAProxy did with them, which the failed requests tell).

Goals: wall at most 1.3 × ideal, 0 failed requests, never fewer than 6 healthy.

    PYTHONPATH=src .venv/bin/python bench/rollout.py [--runs 1] [--probes 3] [--json]

Needs root and the example images (`make setup`). The bench starts its own
etcd and node and removes them, their pods, network and the blackhole it
added, even when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.etcd import EtcdServer
from tests.support.machine import CLUSTER_CIDR, blackholed, require_tools
from tests.support.nodes import (
    NodeProcess,
    remove_everything_of_node,
    unused_pod_subnets,
)
from tests.support.waiting import wait_until

from ozymandias.cluster.records import Deployment, DeploymentStatus, InstanceStatus

NODE = "rollout-bench"
JOB = "rollout"
PROBE = "rollout-probe"
INSTANCES = 6
CONNECTIONS = 64
PARALLELISMS = (1, 3)
# After the last old pod leaves the ingress, its last requests are still being answered.
TAIL_SECONDS = 2.0
GOAL_RATIO = 1.3

# An HTTP check every 0.5 s, also in the start period, healthy after one pass: an
# instance counts healthy at most half a second after it can answer.
HEALTHCHECK = """\
    healthcheck: {type: http, port: 3000, path: /healthcheck, interval: 0.5, timeout: 0.5,
                  healthy_threshold: 1, unhealthy_threshold: 2, start_period: 2}
"""


def job_spec(name: str, count: int, release: int, max_parallel: int) -> str:
    return f"""\
name: {name}
numInstances: {count}
update: {{max_parallel: {max_parallel}, min_healthy_time: 0}}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: 32M
    ports: ["80:3000"]
    environment: {{RELEASE: "{release}"}}
{HEALTHCHECK}"""


class EtcdJson:
    """Reads records straight from etcd's JSON gateway: the deployment has no API route yet,
    and an etcdctl process ten times a second would take the CPU the rollout needs."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=10)

    def values(self, key: str, *, prefix: bool = False) -> list[bytes]:
        body = {"key": _base64(key.encode())}
        if prefix:
            # The key with its last byte plus one ends the range of every key under it.
            body["range_end"] = _base64(key[:-1].encode() + bytes([ord(key[-1]) + 1]))
        response = self._http.post("/v3/kv/range", json=body)
        response.raise_for_status()
        return [base64.b64decode(kv["value"]) for kv in response.json().get("kvs", [])]

    def deployment(self, job: str) -> Deployment | None:
        found = self.values(f"/ozy/deployments/{job}")
        return Deployment.from_json(found[0]) if found else None

    def statuses(self, job: str) -> list[InstanceStatus]:
        return [
            InstanceStatus.from_json(v) for v in self.values(f"/ozy/instances/{job}/", prefix=True)
        ]

    def close(self) -> None:
        self._http.close()


def _base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class Load:
    """`CONNECTIONS` clients sending GETs through the ingress, each at once after the last,
    on an event loop of its own thread; every answer is noted with its time."""

    def __init__(self, node: NodeProcess) -> None:
        self._url = f"http://127.0.0.1:{node.ingress_port}/"
        self.answers: list[tuple[float, bool]] = []
        self.failures: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()))

    def __enter__(self) -> Load:
        self._thread.start()
        wait_until(lambda: len(self.answers) >= 200, what="the load to get going")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(60)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
        async with httpx.AsyncClient(
            timeout=10, limits=limits, headers={"host": f"{JOB}.localhost"}
        ) as http:
            await asyncio.gather(*(self._client(http) for _ in range(CONNECTIONS)))

    async def _client(self, http: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            try:
                response = await http.get(self._url)
                failure = (
                    ""
                    if response.status_code == 200
                    else f"HTTP {response.status_code} {response.text.strip()[:60]!r}"
                )
            except httpx.HTTPError as error:
                failure = repr(error)
            now = time.time()
            self.answers.append((now, not failure))
            if failure:
                self.failures.append((now, failure))

    def between(self, start: float, end: float) -> tuple[int, list[tuple[float, str]]]:
        """Requests answered in [start, end], and the failures among them."""
        sent = sum(1 for at, _ in list(self.answers) if start <= at <= end)
        return sent, [(at, why) for at, why in list(self.failures) if start <= at <= end]


class HealthyWatch:
    """The job's healthy backend count in the ingress (GET /v1/ingress), every 0.1 s."""

    def __init__(self, node: NodeProcess) -> None:
        self._node = node
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> HealthyWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.samples.append((time.time(), healthy_backends(self._node, JOB)))

    def minimum(self, start: float, end: float) -> int:
        return min(count for at, count in list(self.samples) if start <= at <= end)


def healthy_backends(node: NodeProcess, job: str) -> int:
    routes = node.request("GET", "/v1/ingress").json()["http"]
    return next((int(route["healthy"]) for route in routes if route["job"] == job), 0)


@dataclass
class Rollout:
    max_parallel: int
    wall_seconds: float
    one_start_seconds: list[float]  # one probe instance, placement to healthy, each probe
    batch_start_seconds: list[float]  # `max_parallel` probe instances at once, to all healthy
    in_rollout_start_seconds: list[float]  # the rollout's own, from its events
    requests: int
    failed: int
    min_healthy: int
    failures: list[str] = field(default_factory=list)  # bursts, relative to the PUT
    events: list[str] = field(default_factory=list)  # the rollout's, relative to the PUT

    @property
    def batches(self) -> int:
        return math.ceil(INSTANCES / self.max_parallel)

    @property
    def ideal_seconds(self) -> float:
        """The issue's ideal: batches × one instance's start to its first passed check."""
        return self.batches * statistics.median(self.one_start_seconds)

    @property
    def ratio(self) -> float:
        return self.wall_seconds / self.ideal_seconds

    @property
    def batch_ratio(self) -> float:
        """Against batches × a whole batch's start: on two cores, starting three pods at once
        takes longer than one, which the issue's ideal leaves out."""
        return self.wall_seconds / (self.batches * statistics.median(self.batch_start_seconds))

    def missed(self) -> list[str]:
        missed = []
        if self.ratio > GOAL_RATIO:
            missed.append(f"wall/ideal {self.ratio:.2f} (goal <= {GOAL_RATIO})")
        if self.failed:
            missed.append(f"{self.failed} failed requests (goal 0)")
        if self.min_healthy < INSTANCES:
            missed.append(f"healthy fell to {self.min_healthy} (goal >= {INSTANCES})")
        return missed


def start_to_healthy(node: NodeProcess, etcd: EtcdJson, count: int, samples: int) -> list[float]:
    """Seconds from scaling the probe job 0 -> `count` until all its instances passed a check,
    by the nodes' own clock (`healthy_since`), once per sample."""

    def scale(instances: int) -> None:
        path = f"/v1/jobs/{PROBE}/scale"
        node.request("POST", path, json={"numInstances": instances}).raise_for_status()

    def last_healthy() -> float:
        since = [s.healthy_since for s in etcd.statuses(PROBE)]
        return max(since) if len(since) == count and all(since) else 0.0

    times = []
    for _ in range(samples):
        scaled = time.time()
        scale(count)
        healthy = wait_until(last_healthy, timeout=60, interval=0.1, what="the probe healthy")
        times.append(healthy - scaled)
        scale(0)
        wait_until(lambda: not etcd.statuses(PROBE), timeout=60, what="the probe's pods gone")
    return times


@dataclass
class Observed:
    """One rollout as seen from outside; times are Unix times."""

    submitted: float
    successful: float  # the deployment record's time of success
    end: float  # the old pods are out of the ingress, and TAIL_SECONDS passed
    requests: int
    failures: list[tuple[float, str]]  # seconds after the PUT, and what failed
    events: list[str]  # seconds after the PUT, kind and message
    start_seconds: list[float]  # from the deployment starting each new instance to counting it


def roll_out(
    node: NodeProcess, etcd: EtcdJson, load: Load, release: int, max_parallel: int
) -> Observed:
    """Submit `release` and follow its deployment to success, then its old pods out."""
    submitted = time.time()
    response = node.apply(job_spec(JOB, INSTANCES, release, max_parallel))
    response.raise_for_status()
    version = int(response.json()["version"])

    def ended() -> Deployment | None:
        deployment = etcd.deployment(JOB)
        if deployment is None or deployment.version != version or deployment.status.active:
            return None
        return deployment

    deployment: Deployment = wait_until(ended, timeout=300, interval=0.1, what="the deployment")
    if deployment.status is not DeploymentStatus.SUCCESSFUL:
        raise RuntimeError(f"deployment {deployment.status.value}: {deployment.description}")
    # Old pods leave the ingress once retired: the window ends when only new ones remain.
    wait_until(lambda: settled(node, etcd, version), timeout=60, interval=0.1, what="old pods gone")
    end = time.time() + TAIL_SECONDS
    time.sleep(TAIL_SECONDS)
    sent, failures = load.between(submitted, end)
    events = node.request(
        "GET", "/v1/events", params={"job": JOB, "since": submitted, "limit": 1000}
    ).json()
    return Observed(
        submitted,
        deployment.updated_at,
        end,
        sent,
        [(at - submitted, why) for at, why in failures],
        [f"+{e['time'] - submitted:.2f}s {e['kind']}: {e['message']}" for e in events],
        starts_in_rollout(events),
    )


def starts_in_rollout(events: list[dict[str, Any]]) -> list[float]:
    """Seconds from "started X to replace Y" to "X healthy; stopping Y", per new instance: the
    starts the rollout waited for, next to the probe's, so a gap tells where it came from."""
    started: dict[str, float] = {}
    seconds = []
    for event in events:
        if event["kind"] != "deployment":
            continue
        if match := re.match(r"started (\S+) to replace ", event["message"]):
            started[match[1]] = event["time"]
        elif (match := re.match(r"(\S+) healthy; stopping ", event["message"])) and (
            match[1] in started
        ):
            seconds.append(event["time"] - started[match[1]])
    return seconds


def bursts(failures: list[tuple[float, str]], gap: float = 0.5) -> list[str]:
    """Failures less than `gap` seconds apart, as one line each: they read against the events."""
    lines: list[str] = []
    group: list[tuple[float, str]] = []
    for failure in [*failures, (math.inf, "")]:
        if group and failure[0] - group[-1][0] >= gap:
            lines.append(
                f"+{group[0][0]:.2f}s to +{group[-1][0]:.2f}s: {len(group)} ({group[0][1]})"
            )
            group = []
        group.append(failure)
    return lines


def deployed(node: NodeProcess, etcd: EtcdJson) -> bool:
    """The first version's deployment is done and every instance is in the ingress."""
    deployment = etcd.deployment(JOB)
    return (
        deployment is not None
        and deployment.status is DeploymentStatus.SUCCESSFUL
        and healthy_backends(node, JOB) == INSTANCES
    )


def settled(node: NodeProcess, etcd: EtcdJson, version: int) -> bool:
    """Only the version's instances are reported, and the ingress has exactly those."""
    statuses = etcd.statuses(JOB)
    return (
        len(statuses) == INSTANCES
        and all(s.spec_version == version for s in statuses)
        and healthy_backends(node, JOB) == INSTANCES
    )


def one_run(
    node: NodeProcess, etcd: EtcdJson, load: Load, watch: HealthyWatch, run: int, probes: int
) -> list[Rollout]:
    """A rollout with each of PARALLELISMS, each right after the probe starts its ideal is
    made of: others' work on this shared machine changes a start's time from minute to minute."""
    rollouts = []
    for offset, max_parallel in enumerate(PARALLELISMS):
        starts = {count: start_to_healthy(node, etcd, count, probes) for count in {1, max_parallel}}
        release = 2 + run * len(PARALLELISMS) + offset
        seen = roll_out(node, etcd, load, release, max_parallel)
        rollouts.append(
            Rollout(
                max_parallel=max_parallel,
                wall_seconds=seen.successful - seen.submitted,
                one_start_seconds=starts[1],
                batch_start_seconds=starts[max_parallel],
                in_rollout_start_seconds=seen.start_seconds,
                requests=seen.requests,
                failed=len(seen.failures),
                min_healthy=watch.minimum(seen.submitted, seen.end),
                failures=bursts(seen.failures),
                events=seen.events,
            )
        )
    return rollouts


def report(runs: list[list[Rollout]]) -> None:
    print(
        f"\n{INSTANCES} instances, {CONNECTIONS} connections through the ingress, "
        "min_healthy_time 0.\nStarts, placement to first passed check (medians): the probe's, "
        "one and max_parallel at once, before each rollout; the rollout's own, from its events."
    )
    print(
        f"{'run':>3} {'max_par':>7} {'1 start':>7} {'batch start':>11} {'in rollout':>10} "
        f"{'ideal':>6} "
        f"{'wall':>6} {'wall/ideal':>10} {'wall/batch ideal':>16} {'requests':>8} "
        f"{'failed':>6} {'min healthy':>11}"
    )
    for number, rollouts in enumerate(runs, 1):
        for r in rollouts:
            print(
                f"{number:>3} {r.max_parallel:>7} {statistics.median(r.one_start_seconds):>6.2f}s "
                f"{statistics.median(r.batch_start_seconds):>10.2f}s "
                f"{statistics.median(r.in_rollout_start_seconds):>9.2f}s {r.ideal_seconds:>5.2f}s "
                f"{r.wall_seconds:>5.2f}s {r.ratio:>10.2f} {r.batch_ratio:>16.2f} "
                f"{r.requests:>8} {r.failed:>6} {r.min_healthy:>11}"
            )
    print()
    for max_parallel in PARALLELISMS:
        of = [r for rollouts in runs for r in rollouts if r.max_parallel == max_parallel]
        walls, ratios = [r.wall_seconds for r in of], [r.ratio for r in of]
        print(
            f"max_parallel {max_parallel}: wall min/median/max {min(walls):.2f}/"
            f"{statistics.median(walls):.2f}/{max(walls):.2f}s, wall/ideal {min(ratios):.2f}/"
            f"{statistics.median(ratios):.2f}/{max(ratios):.2f} (goal <= {GOAL_RATIO}); "
            f"failed {sum(r.failed for r in of)} of {sum(r.requests for r in of)} (goal 0); "
            f"min healthy {min(r.min_healthy for r in of)} (goal >= {INSTANCES})"
        )
    missed = [
        f"run {number}, max_parallel {r.max_parallel}: {', '.join(r.missed())}"
        for number, rollouts in enumerate(runs, 1)
        for r in rollouts
        if r.missed()
    ]
    print("\ngoals met" if not missed else "\nmissed goals:\n  " + "\n  ".join(missed))
    # Where requests failed or capacity dropped: when, against the rollout's own steps.
    for number, rollouts in enumerate(runs, 1):
        for r in rollouts:
            if r.failed or r.min_healthy < INSTANCES:
                print(f"\nrun {number}, max_parallel {r.max_parallel}: events")
                print("  " + "\n  ".join(r.events))
                print("failures, in bursts (first and last, how many, the first's answer)")
                print("  " + "\n  ".join(r.failures))


def as_json(runs: list[list[Rollout]]) -> list[list[dict[str, Any]]]:
    """Each run's rollouts: the measured figures, and what the report derives from them."""
    return [
        [
            {
                **asdict(r),
                "ideal_seconds": r.ideal_seconds,
                "ratio": r.ratio,
                "batch_ratio": r.batch_ratio,
                "missed_goals": r.missed(),
            }
            for r in rollouts
        ]
        for rollouts in runs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs", type=int, default=1, help="each rolls out with every max_parallel"
    )
    parser.add_argument("--probes", type=int, default=3, help="probe starts per run (median)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    arguments = parser.parse_args()
    require_tools()
    runs: list[list[Rollout]] = []
    with tempfile.TemporaryDirectory(prefix="ozy-bench-rollout-") as scratch:
        work = Path(scratch)
        with blackholed(CLUSTER_CIDR):
            (work / "etcd").mkdir()
            etcd_server = EtcdServer(work / "etcd" / "data")
            node = NodeProcess(
                NODE,
                "",
                work / "nodes",
                unused_pod_subnets(1, first=110)[0],
                lease_ttl=5,
                log_level="INFO",
            )
            etcd: EtcdJson | None = None
            try:
                etcd_server.start()
                etcd = EtcdJson(etcd_server.url)
                node.etcd_url = etcd_server.url
                node.start()
                node.apply(job_spec(JOB, INSTANCES, 1, 1)).raise_for_status()
                node.apply(job_spec(PROBE, 0, 1, 1)).raise_for_status()
                wait_until(
                    lambda: deployed(node, etcd),
                    timeout=120,
                    what=f"{INSTANCES} healthy instances, deployed",
                )
                with Load(node) as load, HealthyWatch(node) as watch:
                    for run in range(arguments.runs):
                        runs.append(one_run(node, etcd, load, watch, run, arguments.probes))
                        print(f"run {run + 1}/{arguments.runs} done", file=sys.stderr, flush=True)
            finally:
                if etcd is not None:
                    etcd.close()
                node.stop()
                remove_everything_of_node(NODE)
                etcd_server.stop()
    if arguments.json:
        print(json.dumps(as_json(runs), indent=2))
    else:
        report(runs)


if __name__ == "__main__":
    main()
