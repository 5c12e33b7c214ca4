"""What a Prometheus scrape costs: `GET /metrics` on a node running many instances (issue #18).

One real node daemon (`ozy node run`, with its own etcd, pods in podman, its
HAProxy and DNS) runs one job of `--instances` pods (default 200): busybox
`sleep` in the example web image (under a shell that ends on SIGTERM, so the
pods stop at once), 16 MB each, with a cluster port, so every
instance is also in the node's DNS and behind its ingress (a HAProxy pool of
256 slots, read over its stats socket at every scrape). Once all are running
and in the ingress, the bench sends `--scrapes` requests of each kind, in
turn, on one kept-alive connection with an admin token:

- `GET /metrics` (the node's whole exposition);
- `GET /v1/health`, the anchor: the same API, auth, connection and event
  loop, with next to no work, so the scrape reads as a ratio to it.

It prints p50/p90/p99/max of each, the ratio of the p99s, and the scrape's
size (bytes, samples). Goal: scrape p99 under 50 ms.

    PYTHONPATH=src .venv/bin/python bench/metrics_scrape.py [--instances 200] [--scrapes 500]

Needs root and the example images (`make setup`). The bench starts its own
etcd and node and removes them, their pods, network and the blackhole it
added, even when it fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client.parser import text_string_to_metric_families
from tests.support.auth import bearer
from tests.support.etcd import EtcdServer
from tests.support.machine import CLUSTER_CIDR, blackholed, require_tools
from tests.support.nodes import (
    NodeProcess,
    remove_everything_of_node,
    unused_pod_subnets,
)

NODE = "scrape-bench"
JOB = "sleepers"
GOAL_P99_SECONDS = 0.050


def job_spec(instances: int) -> str:
    return f"""\
name: {JOB}
numInstances: {instances}
containers:
  app:
    image: localhost/ozy-example-web:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
    memory: 16M
    ports: ["80:3000"]
"""


def samples_of(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def servers_up(client: httpx.Client) -> float:
    """The job's servers up in the node's HAProxy, as a scrape shows them."""
    samples = samples_of(client.get("/metrics").text)
    return samples.get(("ozy_ingress_servers", frozenset({("job", JOB), ("state", "up")})), 0.0)


def wait_for_ingress(client: httpx.Client, instances: int, seconds: float) -> float:
    """Until every instance is up behind the ingress, or `seconds` pass: how many are."""
    deadline = time.monotonic() + seconds
    while (up := servers_up(client)) < instances and time.monotonic() < deadline:
        time.sleep(1)
    return up


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(client: httpx.Client, scrapes: int) -> dict[str, list[float]]:
    """Latencies in seconds of each request kind, sent in turn so both see the same noise."""
    timings: dict[str, list[float]] = {"/metrics": [], "/v1/health": []}
    for _ in range(scrapes):
        for path, kept in timings.items():
            started = time.perf_counter()
            response = client.get(path)
            kept.append(time.perf_counter() - started)
            response.raise_for_status()
    return timings


def summary(timings: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(timings) * 1000,
        "p90_ms": percentile(timings, 0.90) * 1000,
        "p99_ms": percentile(timings, 0.99) * 1000,
        "max_ms": max(timings) * 1000,
    }


def run(instances: int, scrapes: int, work: Path) -> dict[str, object]:
    etcd = EtcdServer(work / "etcd" / "data")
    node = NodeProcess(
        NODE,
        "",
        work / "nodes",
        unused_pod_subnets(1, first=120)[0],
        memory="8G",
        log_level="INFO",
    )
    try:
        etcd.start()
        node.etcd_url = etcd.url
        node.start()
        node.apply(job_spec(instances)).raise_for_status()
        started = time.monotonic()
        node.wait_running(JOB, instances, timeout=60 + 3 * instances)
        running_after = time.monotonic() - started
        print(f"{instances} instances running after {running_after:.0f}s", file=sys.stderr)
        with httpx.Client(base_url=node.api, headers=bearer(), timeout=30) as client:
            in_ingress = wait_for_ingress(client, instances, seconds=180)
            print(f"{in_ingress:.0f} of them up behind the ingress", file=sys.stderr)
            exposition = client.get("/metrics")
            timings = measure(client, scrapes)
        text = exposition.text
        families = list(text_string_to_metric_families(text))
        scrape, anchor = summary(timings["/metrics"]), summary(timings["/v1/health"])
        return {
            "instances": instances,
            "in_ingress": in_ingress,
            "scrapes": scrapes,
            "metrics": scrape,
            "health": anchor,
            "p99_ratio": scrape["p99_ms"] / anchor["p99_ms"],
            "scrape_bytes": len(exposition.content),
            "scrape_families": len(families),
            "scrape_samples": sum(len(family.samples) for family in families),
            "goal_met": scrape["p99_ms"] < GOAL_P99_SECONDS * 1000,
        }
    finally:
        node.stop(timeout=120)
        remove_everything_of_node(NODE)
        etcd.stop()


def report(figures: dict[str, object]) -> None:
    print(f"GET /metrics on a node running {figures['instances']} instances "
          f"({figures['in_ingress']:.0f} up behind its ingress), {figures['scrapes']} requests "
          "of each kind, in turn, on one connection:")  # fmt: skip
    for label, key in (("GET /metrics", "metrics"), ("GET /v1/health", "health")):
        stats = figures[key]
        assert isinstance(stats, dict)
        print(
            f"  {label:<16} p50 {stats['p50_ms']:6.2f} ms  p90 {stats['p90_ms']:6.2f} ms  "
            f"p99 {stats['p99_ms']:6.2f} ms  max {stats['max_ms']:6.2f} ms"
        )
    print(f"  p99 ratio, /metrics to /v1/health: {figures['p99_ratio']:.1f}")
    print(
        f"  the scrape: {figures['scrape_bytes']:,} bytes, {figures['scrape_families']} "
        f"families, {figures['scrape_samples']:,} samples"
    )
    verdict = "met" if figures["goal_met"] else "MISSED"
    print(f"  goal: p99 under {GOAL_P99_SECONDS * 1000:.0f} ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200, help="pods the node runs")
    parser.add_argument("--scrapes", type=int, default=500, help="requests of each kind")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    arguments = parser.parse_args()
    require_tools()
    with tempfile.TemporaryDirectory(prefix="ozy-bench-scrape-") as scratch:
        work = Path(scratch)
        (work / "etcd").mkdir()
        with blackholed(CLUSTER_CIDR):
            figures = run(arguments.instances, arguments.scrapes, work)
    if arguments.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    main()
