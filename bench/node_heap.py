"""Where a real node's memory goes at the control-plane bench's scale (issue #21).

bench/mirror_memory.py measures the mirrors alone, in this process; this looks
inside a real `ozy node run` instead. It writes bench/control_plane.py's cluster
(the small scenario by default) into a throwaway etcd, starts the node on it,
waits until it is ready (every instance mirrored, HAProxy routing the last
job) and settled, then attaches gdb to it and runs a few lines of Python in
it: its RSS, the object types it holds most of, and, with `--trace`, its
largest allocation sites by tracemalloc (the node then runs with
PYTHONTRACEMALLOC=1, which makes it slower and its RSS about 60% larger: read
the sites' sizes, not its RSS). Last, `malloc_trim(0)` and the RSS after it:
what glibc still held freed (the node trims once up and every minute,
`heap_trim.py`, so a little only).

    .venv/bin/python bench/node_heap.py [--trace] [--jobs 1000 --nodes 100 --per-job 10]

Needs root (the node's pod network and gdb's ptrace), etcd, HAProxy, podman, gdb.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# As bench/control_plane.py: bench/dns.py must not stand in for dnspython.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))

from tests.support.etcd import EtcdServer
from tests.support.machine import CLUSTER_CIDR, blackholed, free_port
from tests.support.nodes import NodeProcess
from tests.support.simulated_cluster import Scenario, write_cluster
from tests.support.waiting import wait_until

from control_plane import SETTLE_SECONDS, routed, rss

# Run inside the node, by gdb: it writes its findings to the file named by REPORT.
PROBE = """
import collections, ctypes, gc, tracemalloc
def rss():
    return next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS'))
with open(REPORT, 'w') as out:
    out.write(f'RSS (KiB) {rss()}\\n')
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        out.write(f'traced (B) {tracemalloc.get_traced_memory()[0]}\\n')
        for stat in snapshot.statistics('lineno')[:TOP]:
            out.write(f'site {stat}\\n')
        del snapshot
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
    for name, count in counts.most_common(TOP):
        out.write(f'type {name} {count}\\n')
    del counts
    ctypes.CDLL(None).malloc_trim(0)
    out.write(f'RSS after malloc_trim (KiB) {rss()}\\n')
"""


def probe(pid: int, report: Path, top: int) -> str:
    """Run PROBE in the node `pid`, holding its GIL, and return what it wrote."""
    script = report.with_suffix(".py")
    script.write_text(f"REPORT = {str(report)!r}\nTOP = {top}\n{PROBE}")
    run = f"exec(open('{script}').read())"
    subprocess.run(
        [
            "gdb", "-p", str(pid), "-batch",
            "-ex", "call (int)PyGILState_Ensure()",
            "-ex", f'call (int)PyRun_SimpleString("{run}")',
            "-ex", "call (void)PyGILState_Release($1)",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )  # fmt: skip
    return report.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=10)
    parser.add_argument("--trace", action="store_true", help="also tracemalloc's largest sites")
    parser.add_argument("--top", type=int, default=40, help="how many sites and types")
    args = parser.parse_args()
    scenario = Scenario(args.nodes, args.jobs, args.per_job)
    with blackholed(CLUSTER_CIDR), tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        (directory / "etcd").mkdir()
        etcd = EtcdServer(directory / "etcd" / "data")
        env = {"PYTHONTRACEMALLOC": "1"} if args.trace else {}
        node = NodeProcess(
            "heap", "", directory / "nodes", "10.213.245.0/24", log_level="INFO", extra_env=env
        )
        try:
            etcd.start()
            node.etcd_url = etcd.url
            asyncio.run(write_cluster(etcd.url, scenario, random.Random(21), free_port()))
            node.start(wait=False)
            wait_until(node.answers, timeout=300, what="the API")
            last = f"cp-{scenario.jobs - 1:05d}"

            def mirrored() -> bool:
                response = node.request("GET", "/v1/instances", params={"job": last})
                return response.status_code == 200 and len(response.json()) == scenario.per_job

            wait_until(mirrored, timeout=300, what="every instance mirrored")
            wait_until(lambda: routed(node, last), timeout=300, what="HAProxy routing")
            time.sleep(SETTLE_SECONDS)
            assert node.process is not None
            print(f"scenario: {scenario}; RSS settled {rss(node.process.pid) / 2**20:.1f} MiB")
            print(probe(node.process.pid, directory / "probe.txt", args.top), end="")
        finally:
            node.stop()
            etcd.stop()


if __name__ == "__main__":
    main()
