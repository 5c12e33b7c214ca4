"""Whether a node keeps time under load: lease-refresh delay, API latency, and fast refusals.

Measures, on one node (lease TTL 5 s, so a refresh is due every 1.67 s):

1. how late each lease refresh is (p50/p99/max over --seconds), on an idle
   node; then with two containers without `cpus` spinning on every core;
   then with 200 concurrent API clients. Read from the node's own DEBUG
   log line for each refresh (store/lease.py), so it is the keeper's view;
2. the latency of GET /v1/jobs under those 200 clients (p50/p99), and how
   many were refused with 429;
3. the time to refuse the oversized job of the bounded-input issue
   (numInstances 100,000,000), and whether the node fenced at any point.

Goals: refresh delay p99 under 1 s under both loads, no fencing, the
oversized job refused in under 100 ms.

Run as root on a set-up machine (`make setup`):  .venv/bin/python bench/isolation.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.auth import bearer  # noqa: E402
from tests.support.etcd import EtcdServer  # noqa: E402
from tests.support.jobs import WEB_IMAGE  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed  # noqa: E402
from tests.support.nodes import NodeProcess, remove_everything_of_node  # noqa: E402
from tests.support.podman import containers_with_label  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

LEASE_TTL = 5
CLIENTS = 200
REFRESH = re.compile(r"lease \w+ refreshed ([0-9.]+)s after the previous refresh")

SPIN_JOB = f"""
name: spin
numInstances: 2
containers:
  burn:
    image: {WEB_IMAGE}
    memory: 16M
    command: ["/bin/sh", "-c", "for i in $(seq {os.cpu_count() or 2}); do (while :; do :; done) & done; wait"]
"""  # noqa: E501

OVERSIZED = {
    "name": "big",
    "numInstances": 100_000_000,
    "containers": {"app": {"image": "x", "memory": "1M"}},
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def refresh_delays(log: Path, start: int) -> list[float]:
    """How late each refresh logged after byte `start` of the log was, in seconds."""
    due = LEASE_TTL / 3
    with log.open("rb") as file:
        file.seek(start)
        text = file.read().decode(errors="replace")
    return [max(0.0, float(gap) - due) for gap in REFRESH.findall(text)]


def delay_line(name: str, delays: list[float]) -> str:
    if not delays:
        return f"  {name:<34} no refresh logged"
    return (
        f"  {name:<34} p50 {statistics.median(delays) * 1000:7.1f} ms  "
        f"p99 {percentile(delays, 0.99) * 1000:7.1f} ms  max {max(delays) * 1000:7.1f} ms  "
        f"(n={len(delays)})"
    )


def measure_refreshes(node: NodeProcess, seconds: float) -> list[float]:
    start = node.log_path.stat().st_size
    time.sleep(seconds)
    return refresh_delays(node.log_path, start)


async def crowd(api: str, seconds: float) -> tuple[list[float], int, int]:
    """`CLIENTS` clients asking GET /v1/jobs for `seconds`; latencies, 429s, other errors."""
    latencies: list[float] = []
    refused = 0
    failed = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=api, timeout=30, limits=limits, headers=bearer()
    ) as client:

        async def one_client() -> None:
            nonlocal refused, failed
            while time.monotonic() < deadline:
                sent = time.perf_counter()
                try:
                    reply = await client.get("/v1/jobs")
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if reply.status_code == 429:
                    refused += 1
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
                elif reply.status_code != 200:
                    failed += 1

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return latencies, refused, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    args = parser.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR):
        directory = Path(scratch)
        (directory / "etcd").mkdir()
        etcd = EtcdServer(directory / "etcd" / "data")
        node = NodeProcess(
            "isolation",
            "",
            directory / "nodes",
            pod_subnet="10.213.249.0/24",
            lease_ttl=LEASE_TTL,
            memory="1G",
        )
        try:
            etcd.start()
            node.etcd_url = etcd.url
            node.start()
            lines.append(f"Lease-refresh delay, over {args.seconds:.0f} s per phase:")
            lines.append(delay_line("idle", measure_refreshes(node, args.seconds)))

            assert node.apply(SPIN_JOB).status_code == 201
            node.wait_running("spin", 2)
            burning = measure_refreshes(node, args.seconds)
            lines.append(delay_line(f"2 containers x {os.cpu_count()} spinning", burning))
            node.request("DELETE", "/v1/jobs/spin")
            wait_until(
                lambda: not containers_with_label("ozy.job=spin"), timeout=60, what="spin removed"
            )

            start = node.log_path.stat().st_size
            latencies, refused, failed = asyncio.run(crowd(node.api, args.seconds))
            lines.append(
                delay_line(
                    f"{CLIENTS} concurrent API clients", refresh_delays(node.log_path, start)
                )
            )
            lines.append(f"GET /v1/jobs under {CLIENTS} concurrent clients:")
            lines.append(
                f"  p50 {statistics.median(latencies) * 1000:.1f} ms  "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms  "
                f"({len(latencies)} answers, {refused} refused with 429, {failed} failed)"
            )

            refusals = []
            with httpx.Client(base_url=node.api, timeout=60, headers=bearer()) as client:
                for _ in range(20):
                    sent = time.perf_counter()
                    reply = client.put("/v1/jobs/big", json=OVERSIZED)
                    refusals.append(time.perf_counter() - sent)
                    assert reply.status_code == 422, reply.text
            median = statistics.median(refusals) * 1000
            lines.append(
                f"Refusing numInstances 100,000,000: median {median:.1f} ms, "
                f"max {max(refusals) * 1000:.1f} ms (n=20; goal: under 100 ms)"
            )
            fenced = "FENCING" in node.log_path.read_text()
            lines.append(f"Fenced at any point: {'YES' if fenced else 'no'}")
        finally:
            node.stop()
            remove_everything_of_node("isolation")
            etcd.stop()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
