"""The single-node figure of issue #21: one node running 50 instances with HTTP checks.

One throwaway etcd and one real `ozy node run`; a job of `--instances` pods of
the example web image (ports 80:3000, all behind the ingress), each with an
HTTP healthcheck every `--interval` seconds. Once every instance is healthy
and 10 s have passed, the daemon's RSS, and its CPU over `--seconds` (60),
from /proc. (The podman service and etcd are other processes, not counted.)

    .venv/bin/python bench/single_node.py [--instances 50 --interval 10 --seconds 60]

Needs root, etcd, podman, HAProxy and the example images (`make images`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))

from tests.support.etcd import EtcdServer
from tests.support.jobs import WEB_IMAGE
from tests.support.machine import CLUSTER_CIDR, blackholed
from tests.support.nodes import NodeProcess, remove_everything_of_node
from tests.support.waiting import wait_until

from control_plane import rss
from control_plane_flips import cpu_seconds

SETTLE_SECONDS = 10.0


def job(instances: int, interval: int) -> str:
    return (
        f"name: bench-web\nnumInstances: {instances}\n"
        "containers:\n  app:\n"
        f"    image: {WEB_IMAGE}\n    memory: 32M\n    ports: ['80:3000']\n"
        "    healthcheck:\n"
        f"      {{type: http, port: 3000, path: /healthcheck, interval: {interval},"
        " timeout: 1, healthy_threshold: 1, start_period: 5}\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--seconds", type=float, default=60.0, help="the CPU window")
    args = parser.parse_args()
    instances: int = args.instances
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR):
        etcd = EtcdServer(Path(scratch) / "etcd")
        node = NodeProcess(
            "bench-one", "", Path(scratch) / "nodes", "10.213.246.0/24", "4G", log_level="INFO"
        )
        try:
            etcd.start()
            node.etcd_url = etcd.url
            node.start()
            started = time.perf_counter()
            node.apply(job(args.instances, args.interval)).raise_for_status()

            def all_healthy() -> bool:
                items = node.request("GET", "/v1/instances", params={"job": "bench-web"}).json()
                healthy: int = sum(1 for item in items if item["health"] == "healthy")
                return healthy == instances

            wait_until(all_healthy, timeout=600, interval=1.0, what="every instance healthy")
            print(f"{args.instances} instances healthy in {time.perf_counter() - started:.0f} s")
            time.sleep(SETTLE_SECONDS)
            assert node.process is not None
            pid = node.process.pid
            cpu, began = cpu_seconds(pid), time.perf_counter()
            time.sleep(args.seconds)
            used = cpu_seconds(pid) - cpu
            elapsed = time.perf_counter() - began
            print(f"daemon RSS {rss(pid) / 2**20:.1f} MiB")
            print(f"daemon CPU {100 * used / elapsed:.2f}% of a core over {elapsed:.0f} s")
        finally:
            node.stop()
            remove_everything_of_node(node.name)
            etcd.stop()


if __name__ == "__main__":
    main()
