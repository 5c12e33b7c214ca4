"""How long from kill -9 of a host until every one of its instances runs elsewhere, and is healthy.

Each round builds three sandboxed hosts (tests/multihost/hosts.py) on a
3-member etcd, deploys 6 instances (two per host) with an HTTP healthcheck
(every second, healthy after one pass), kills one host outright (its init,
so the daemon, conmon and containers die together) and measures two times:
until each instance runs exactly once on the survivors, per podman there and
as etcd reports it; and until every instance is also reported healthy (so
back in DNS and the ingress). The lease TTL is the default, 5 s.

For comparison (defaults, from their documentation): Kubernetes marks a node
NotReady after ~40-50 s and evicts its pods 300 s later; Docker Swarm
re-schedules after ~15 s; Nomad after ~20 s (heartbeat grace). Goal here:
median <= 7 s.

Run as root on a set-up machine (`make setup`):
    .venv/bin/python bench/failover.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.host_checks import all_healthy, wait_exactly_once  # noqa: E402
from tests.support.hosts import EtcdCluster, Host, TestNetwork, leftovers  # noqa: E402
from tests.support.jobs import web_job as job_yaml  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed, require_tools  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

JOB = "failover"
INSTANCES = 6
HOSTS = 3


def one_round(etcd: EtcdCluster, work_dir: Path) -> tuple[float, float]:
    """Seconds from kill -9 of a host running 2 of 6 instances until they run elsewhere,
    and until they are healthy there."""
    etcd.wipe()
    hosts = [
        Host(name=f"h{i}", index=i, work_dir=work_dir / f"h{i}", etcd_endpoints=etcd.endpoints)
        for i in range(1, HOSTS + 1)
    ]
    try:
        for host in hosts:
            host.create()
            host.start_daemon(wait=False)
        for host in hosts:
            host.wait_ready()
        hosts[0].apply(job_yaml(JOB, INSTANCES, healthcheck=True), JOB)
        wait_exactly_once(hosts, hosts[0], JOB, INSTANCES)
        wait_until(lambda: all_healthy(hosts[0], JOB, INSTANCES), what="every instance healthy")
        victim, survivors = hosts[-1], hosts[:-1]
        killed = time.monotonic()
        victim.kill()
        wait_exactly_once(survivors, survivors[0], JOB, INSTANCES)
        running = time.monotonic() - killed
        wait_until(
            lambda: all_healthy(survivors[0], JOB, INSTANCES),
            timeout=60,
            interval=0.1,
            what="every instance healthy on the survivors",
        )
        return running, time.monotonic() - killed
    finally:
        for host in hosts:
            host.destroy()
        etcd.wipe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    require_tools()
    times: list[float] = []
    healthy_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ozy-failover-") as scratch:
        work_dir = Path(scratch)
        with blackholed(CLUSTER_CIDR), TestNetwork():
            etcd = EtcdCluster(work_dir / "etcd")
            (work_dir / "etcd").mkdir()
            try:
                etcd.start()
                for round_number in range(1, arguments.rounds + 1):
                    running, healthy = one_round(etcd, work_dir / f"round-{round_number}")
                    times.append(running)
                    healthy_times.append(healthy)
                    print(
                        f"round {round_number}: running {running:.2f}s, healthy {healthy:.2f}s",
                        flush=True,
                    )
            finally:
                etcd.stop()
    assert leftovers() == [], leftovers()
    print(
        f"failover, kill -9 of a host to its {INSTANCES // HOSTS} instances running elsewhere "
        f"(TTL 5 s, {len(times)} rounds): min {min(times):.2f}s, "
        f"median {statistics.median(times):.2f}s, max {max(times):.2f}s"
    )
    print(
        f"failover to healthy (an http check every 1 s): min {min(healthy_times):.2f}s, "
        f"median {statistics.median(healthy_times):.2f}s, max {max(healthy_times):.2f}s"
    )
    print("anchors: Kubernetes ~50 s NotReady + 300 s eviction; Swarm ~15 s; Nomad ~20 s")


if __name__ == "__main__":
    main()
