"""The read side at scale: one real node following a cluster of simulated ones (issue #21).

One throwaway etcd gets a whole cluster written in directly, through the
store, in the records the nodes write:

- `--nodes` simulated nodes, registered under one lease;
- `--jobs` jobs of `--per-job` instances, each placed by the real scheduler
  (`plan_all_or_nothing`, committed by `ClusterStore.commit`, as bench/placement.py);
- an instance status for each, under the simulated nodes' lease, 95% healthy;
- the DNS records of the healthy ones (`node_records`, as each node publishes).

Then one real `ozy node run` starts against it, and the bench measures:

1. time to ready: from the start to its API answering, its mirrors holding
   every instance (`GET /v1/instances?limit=1` of the last job), its DNS
   answering the last job's name with its healthy instances, and HAProxy
   routing the last job's host;
2. its RSS, settled (10 s after ready), and the bytes per instance it implies
   (against the same node started on an empty cluster first);
3. `GET /v1/instances?job=J` p50/p99 (300 requests, kept-alive), and its bytes;
4. the full lists: `GET /v1/jobs` and `GET /v1/instances` whole, and paged
   (`?limit=500&continue=`): each page's time, p50/p99/max;
5. HAProxy generations started by then, and how long each took (the node's
   `ozy_ingress_reload_duration_seconds`);
6. under `--flip-rate` (200) status flips a second for 60 s (20 s with `--quick`):
   the node's CPU, propagation p50/p99 of a flip to its DNS and to its ingress,
   HAProxy reloads, and runtime updates and commands per flip
   (bench/control_plane_flips.py). The cross-node figure (two more nodes in the
   multi-host harness) is not measured.

    .venv/bin/python bench/control_plane.py            # small: 100 nodes, 1,000 x 10
    .venv/bin/python bench/control_plane.py --large    # 1,000 nodes, 10,000 x 10
    .venv/bin/python bench/control_plane.py --quick --keep-log /tmp/logs

Needs root (the node sets up its pod network) and etcd, HAProxy, podman.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, where bench/dns.py
# would stand in for dnspython: it goes last, for control_plane_flips.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))

import dns.exception
import dns.message
import dns.query
import httpx
from tests.support.auth import bearer
from tests.support.etcd import EtcdServer
from tests.support.machine import CLUSTER_CIDR, blackholed, free_port
from tests.support.nodes import NodeProcess, remove_everything_of_node
from tests.support.simulated_cluster import Scenario, write_cluster
from tests.support.status_flips import FlipTarget
from tests.support.waiting import wait_until

from control_plane_flips import FlipFigures, flip_phase, read_metrics
from ozymandias.dns.skydns_layout import DEFAULT_DOMAIN, job_name

SETTLE_SECONDS = 10.0
SAMPLES = 300
PAGE = 500


@dataclass
class Figures:
    write_seconds: float = 0.0
    healthy: int = 0
    ready_api: float = 0.0
    ready_mirrors: float = 0.0
    ready_dns: float = 0.0
    ready_ingress: float = 0.0
    empty_rss: int = 0
    rss: int = 0
    one_job_ms: tuple[float, float] = (0.0, 0.0)
    one_job_bytes: int = 0
    whole: dict[str, tuple[float, int]] | None = None  # path -> (ms, bytes)
    pages: dict[str, tuple[int, float, float, float]] | None = None  # path -> n, p50, p99, max
    flips: FlipFigures | None = None
    ready_reloads: float = 0.0  # HAProxy generations started until settled, and their time
    ready_reload_seconds: float = 0.0


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def dns_answers(node: NodeProcess, name: str) -> int:
    query = dns.message.make_query(name, "A")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=node.dns_port, timeout=1)
    except (OSError, dns.exception.Timeout):
        return -1
    return sum(len(rrset) for rrset in response.answer)


def routed(node: NodeProcess, job: str) -> bool:
    """Whether HAProxy routes the job's host: anything but its own 404 for an unknown host
    (whatever a simulated pod's address leads to, if anything, answers the rest)."""
    try:
        response = httpx.get(
            f"http://127.0.0.1:{node.ingress_port}/",
            headers={"host": f"{job}.localhost"},
            timeout=0.5,
        )
    except httpx.TimeoutException:
        return True
    except httpx.TransportError:
        return False  # HAProxy not listening yet
    return "no job serves host" not in response.text


def timed_get(
    client: httpx.Client, path: str, params: dict[str, str] | None = None
) -> tuple[float, httpx.Response]:
    """One GET: its time in ms, and its response."""
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_api(node: NodeProcess, scenario: Scenario, figures: Figures) -> None:
    with httpx.Client(base_url=node.api, headers=bearer(), timeout=60) as client:
        rng = random.Random(7)
        times = []
        for _ in range(SAMPLES):
            job = f"cp-{rng.randrange(scenario.jobs):05d}"
            elapsed, response = timed_get(client, "/v1/instances", {"job": job})
            times.append(elapsed)
        figures.one_job_ms = (statistics.median(times), percentile(times, 0.99))
        figures.one_job_bytes = len(response.content)
        figures.whole, figures.pages = {}, {}
        for path in ("/v1/jobs", "/v1/instances", "/v1/nodes"):
            elapsed, response = timed_get(client, path)
            figures.whole[path] = (elapsed, len(response.content))
            page_times, token, items = [], None, 0
            while True:
                params = {"limit": str(PAGE)} | ({"continue": token} if token else {})
                elapsed, response = timed_get(client, path, params)
                page_times.append(elapsed)
                items += len(response.json())
                token = response.headers.get("x-continue")
                if token is None:
                    break
            figures.pages[path] = (
                len(page_times),
                statistics.median(page_times),
                percentile(page_times, 0.99),
                max(page_times),
            )


def run(
    scenario: Scenario, directory: Path, rate: int, flip_seconds: float, keep_log: Path | None
) -> Figures:
    figures = Figures()
    (directory / "etcd").mkdir()
    etcd = EtcdServer(directory / "etcd" / "data")
    node = NodeProcess("cp-real", "", directory / "nodes", "10.213.245.0/24", log_level="INFO")
    try:
        etcd.start()
        node.etcd_url = etcd.url
        # The same node on an empty cluster first: what the cluster's records add to it.
        node.start()
        time.sleep(SETTLE_SECONDS)
        assert node.process is not None
        figures.empty_rss = rss(node.process.pid)
        node.stop()

        started = time.perf_counter()
        probe_port = free_port()
        cluster = asyncio.run(write_cluster(etcd.url, scenario, random.Random(21), probe_port))
        figures.healthy = cluster.healthy
        figures.write_seconds = time.perf_counter() - started
        print(f"  cluster written in {figures.write_seconds:.1f} s", flush=True)

        last = f"cp-{scenario.jobs - 1:05d}"
        started = time.perf_counter()
        node.start(wait=False)
        wait_until(node.answers, timeout=300, what="the API")
        figures.ready_api = time.perf_counter() - started

        def mirrored() -> bool:
            response = node.request("GET", "/v1/instances", params={"job": last})
            return response.status_code == 200 and len(response.json()) == scenario.per_job

        wait_until(mirrored, timeout=300, what="every instance mirrored")
        figures.ready_mirrors = time.perf_counter() - started
        last_healthy = sum(
            1
            for item in node.request("GET", "/v1/instances", params={"job": last}).json()
            if item["health"] == "healthy"
        )
        wait_until(
            lambda: dns_answers(node, job_name(last, DEFAULT_DOMAIN)) == last_healthy,
            timeout=300,
            what="DNS serving the last job",
        )
        figures.ready_dns = time.perf_counter() - started

        wait_until(lambda: routed(node, last), timeout=300, what="HAProxy routing the last job")
        figures.ready_ingress = time.perf_counter() - started
        time.sleep(SETTLE_SECONDS)
        assert node.process is not None
        figures.rss = rss(node.process.pid)
        started_haproxy = read_metrics(node)
        figures.ready_reloads = started_haproxy.get("ozy_ingress_reload_duration_seconds_count", 0)
        figures.ready_reload_seconds = started_haproxy.get(
            "ozy_ingress_reload_duration_seconds_sum", 0
        )
        measure_api(node, scenario, figures)
        targets = [
            FlipTarget(status, cluster.addresses[status.node], cluster.ports[status.job])
            for status in cluster.statuses
        ]
        print(f"  flipping {rate} statuses/s for {flip_seconds:.0f} s", flush=True)
        figures.flips = asyncio.run(
            flip_phase(etcd.url, node, targets, cluster.lease, probe_port, rate, flip_seconds)
        )
    finally:
        node.stop()
        if keep_log is not None:
            shutil.copyfile(node.log_path, keep_log / f"node-{scenario.instances}.log")
        remove_everything_of_node(node.name)
        etcd.stop()
    return figures


def rows(scenario: Scenario, figures: Figures) -> list[tuple[str, float, str]]:
    """(label, value, format) of every figure of one scenario, in the order printed."""
    mib = 1024 * 1024
    found = [
        ("cluster written (s)", figures.write_seconds, "{:.1f}"),
        ("ready: API answers (s)", figures.ready_api, "{:.1f}"),
        ("ready: every instance mirrored (s)", figures.ready_mirrors, "{:.1f}"),
        ("ready: DNS serves the last job (s)", figures.ready_dns, "{:.1f}"),
        ("ready: HAProxy routes the last job (s)", figures.ready_ingress, "{:.1f}"),
        ("HAProxy generations started by then", figures.ready_reloads, "{:.0f}"),
        (
            "  each took (ms, mean)",
            1000 * figures.ready_reload_seconds / max(1.0, figures.ready_reloads),
            "{:.0f}",
        ),
        ("RSS, empty cluster (MiB)", figures.empty_rss / mib, "{:.0f}"),
        ("RSS, settled (MiB)", figures.rss / mib, "{:.0f}"),
        ("bytes per instance", (figures.rss - figures.empty_rss) / scenario.instances, "{:.0f}"),
        ("GET /v1/instances?job=J p50 (ms)", figures.one_job_ms[0], "{:.1f}"),
        ("GET /v1/instances?job=J p99 (ms)", figures.one_job_ms[1], "{:.1f}"),
        ("GET /v1/instances?job=J (bytes)", figures.one_job_bytes, "{:.0f}"),
    ]
    for path in ("/v1/jobs", "/v1/instances", "/v1/nodes"):
        assert figures.whole is not None and figures.pages is not None
        elapsed, size = figures.whole[path]
        pages, p50, p99, longest = figures.pages[path]
        found += [
            (f"GET {path} whole (ms)", elapsed, "{:.0f}"),
            (f"GET {path} whole (KiB)", size / 1024, "{:.0f}"),
            (f"  pages of {PAGE}", pages, "{:.0f}"),
            ("  page p50 (ms)", p50, "{:.1f}"),
            ("  page p99 (ms)", p99, "{:.1f}"),
            ("  page max (ms)", longest, "{:.1f}"),
        ]
    return found + flip_rows(figures.flips)


def flip_rows(flips: FlipFigures | None) -> list[tuple[str, float, str]]:
    assert flips is not None
    per_flip = max(1, flips.flips)
    metrics = flips.metrics
    reloads = metrics["ozy_ingress_reload_duration_seconds_count"]
    reload_ms = 1000 * metrics["ozy_ingress_reload_duration_seconds_sum"] / max(1.0, reloads)
    return [
        ("flips/s", flips.flips / flips.seconds, "{:.0f}"),
        ("  node CPU (% of a core)", 100 * flips.cpu_seconds / flips.seconds, "{:.1f}"),
        ("  to DNS p50 (ms)", statistics.median(flips.dns_ms or [0.0]), "{:.0f}"),
        ("  to DNS p99 (ms)", percentile(flips.dns_ms or [0.0], 0.99), "{:.0f}"),
        ("  to ingress p50 (ms)", statistics.median(flips.ingress_ms or [0.0]), "{:.0f}"),
        ("  to ingress p99 (ms)", percentile(flips.ingress_ms or [0.0], 0.99), "{:.0f}"),
        ("  probes (DNS + ingress)", len(flips.dns_ms) + len(flips.ingress_ms), "{:.0f}"),
        ("  probes not seen in 10 s", flips.lost, "{:.0f}"),
        ("  HAProxy reloads", reloads, "{:.0f}"),
        ("  HAProxy reload (ms, mean)", reload_ms, "{:.0f}"),
        (
            "  runtime updates per flip",
            metrics["ozy_ingress_runtime_updates_total"] / per_flip,
            "{:.2f}",
        ),
        (
            "  runtime commands per flip",
            metrics["ozy_ingress_runtime_commands_total"] / per_flip,
            "{:.2f}",
        ),
    ]


def report(results: list[tuple[Scenario, Figures]]) -> None:
    """Each scenario's figures side by side, with the ratio of the second to the first."""
    names = [f"{s.nodes}n/{s.jobs}j/{s.instances}i" for s, _ in results]
    ratio = len(results) == 2
    print(f"{'':<38}" + "".join(f"{name:>22}" for name in names) + (" ratio" if ratio else ""))
    columns = [rows(scenario, figures) for scenario, figures in results]
    for line in zip(*columns, strict=True):
        label, _, fmt = line[0]
        values = [value for _, value, _ in line]
        text = f"{label:<38}" + "".join(f"{fmt.format(v):>22}" for v in values)
        if ratio and values[0]:
            text += f" {values[1] / values[0]:.1f}x"
        print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="also the 10x scenario")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10)
    parser.add_argument("--flip-rate", type=int, default=200, help="status flips per second")
    parser.add_argument("--quick", action="store_true", help="flip for 20 s rather than 60 s")
    parser.add_argument("--keep-log", type=Path, help="copy the real node's log into this folder")
    args = parser.parse_args()
    flip_seconds = 20.0 if args.quick else 60.0
    small = Scenario(args.nodes, args.jobs, args.per_job)
    scenarios = [small] + (
        [Scenario(small.nodes * 10, small.jobs * 10, small.per_job)] if args.large else []
    )
    results = []
    with blackholed(CLUSTER_CIDR):
        for scenario in scenarios:
            print(f"scenario: {scenario}", flush=True)
            with tempfile.TemporaryDirectory() as scratch:
                results.append(
                    (
                        scenario,
                        run(scenario, Path(scratch), args.flip_rate, flip_seconds, args.keep_log),
                    )
                )
    report(results)


if __name__ == "__main__":
    main()
