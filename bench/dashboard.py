"""The dashboard's weight: its first load, and what open dashboards cost the node.

Measures, in one run, against one real node (its own etcd) running a job of
--instances web pods, in headless Debian chromium (tests/support/browser.py):

1. the first load, --loads times, each with the browser's cache off and the
   token already in the tab's session storage (as after signing in): bytes
   transferred and requests completed by the time the first job is drawn
   (the page's `performance.mark("ozy-first-job")`), from the Performance
   API's navigation and resource entries, and that time since navigation
   started. The watch streams stay open, so they are counted apart;
2. the node daemon's CPU (utime + stime of its process, from /proc/PID/stat)
   over --seconds with no dashboard open (the anchor), then with 5 open on
   the overview (5 browsers, as 5 operators would have: a browser opens at
   most 6 connections to one host, and each dashboard holds 4 watch
   streams), as % of one core.

Goals: first load under 300 KB and under 1 s; 5 open dashboards add under
2% of a core.

Run as root on a set-up machine (`make setup`):
    .venv/bin/python bench/dashboard.py [--seconds 60] [--loads 5] [--instances 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from selenium.webdriver import Chrome  # noqa: E402
from tests.support.auth import TEST_ADMIN_SECRET  # noqa: E402
from tests.support.browser import start_chromium  # noqa: E402
from tests.support.etcd import EtcdServer  # noqa: E402
from tests.support.jobs import web_job  # noqa: E402
from tests.support.machine import CLUSTER_CIDR, blackholed  # noqa: E402
from tests.support.nodes import NodeProcess, remove_everything_of_node  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

DASHBOARDS = 5
_TICKS = os.sysconf("SC_CLK_TCK")

# Read in the page once the first job is drawn: what had arrived by then.
_FIRST_LOAD = """
const mark = performance.getEntriesByName("ozy-first-job")[0];
if (!mark) return null;
const entries = [...performance.getEntriesByType("navigation"),
                 ...performance.getEntriesByType("resource")];
return {
  firstJobMs: mark.startTime,
  bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
  requests: entries.length,
  files: entries.filter((e) => e.name.includes("/ui/")).length,
};
"""


def cpu_seconds(pid: int) -> float:
    # The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def core_share(pid: int, seconds: float) -> float:
    """The process's CPU over `seconds`, as % of one core."""
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / (time.monotonic() - start)


def first_load(driver: Chrome, api: str) -> dict[str, Any]:
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    signed_in(driver, api)
    return dict(wait_until(lambda: driver.execute_script(_FIRST_LOAD), timeout=30,
                           what="the first job drawn"))  # fmt: skip


def signed_in(driver: Chrome, api: str) -> None:
    """Load the overview afresh with the token in the tab's session storage."""
    driver.get(f"{api}/ui/#/")
    driver.execute_script("sessionStorage.setItem('ozy-token', arguments[0])", TEST_ADMIN_SECRET)
    driver.get(f"{api}/ui/?fresh={time.monotonic_ns()}#/")


def open_dashboards(profiles: Path, api: str, count: int) -> list[Chrome]:
    """`count` browsers, each showing the overview."""
    drivers = []
    try:
        for i in range(count):
            drivers.append(start_chromium(profiles / f"operator-{i}"))
            signed_in(drivers[-1], api)
            wait_until(lambda: drivers[-1].execute_script(_FIRST_LOAD), timeout=30,
                       what="a dashboard")  # fmt: skip
    except BaseException:
        for driver in drivers:
            driver.quit()
        raise
    return drivers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="each CPU measurement")
    parser.add_argument("--loads", type=int, default=5, help="first loads measured")
    parser.add_argument("--instances", type=int, default=6, help="instances of the job shown")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, blackholed(CLUSTER_CIDR):
        directory = Path(scratch)
        (directory / "etcd").mkdir()
        etcd = EtcdServer(directory / "etcd" / "data")
        node = NodeProcess("dash", "", directory / "nodes", "10.213.246.0/24", log_level="INFO")
        driver: Chrome | None = None
        operators: list[Chrome] = []
        try:
            etcd.start()
            node.etcd_url = etcd.url
            node.start()
            applied = node.apply(web_job("bench-web", args.instances, healthcheck=True))
            assert applied.status_code in {200, 201}, applied.text
            node.wait_running("bench-web", args.instances)
            driver = start_chromium(directory / "chromium")
            loads = [first_load(driver, node.api) for _ in range(args.loads)]
            assert node.process is not None
            pid = node.process.pid
            driver.quit()
            driver = None
            idle = core_share(pid, args.seconds)
            operators = open_dashboards(directory, node.api, DASHBOARDS)
            watched = core_share(pid, args.seconds)
        finally:
            for browser in [*operators, *([driver] if driver is not None else [])]:
                browser.quit()
            node.stop()
            remove_everything_of_node(node.name)
            etcd.stop()
    kib = [load["bytes"] / 1024 for load in loads]
    ms = [load["firstJobMs"] for load in loads]
    print(f"First load, cache off ({args.loads} loads; a job of {args.instances} instances):")
    print(f"  transferred by the first job drawn: median {statistics.median(kib):.1f} KiB "
          f"(each: {', '.join(f'{k:.1f}' for k in kib)}; goal under 300 KB)")  # fmt: skip
    print(f"  requests completed by then: {loads[0]['requests']} ({loads[0]['files']} of them "
          "the page's files), plus 4 watch streams left open")  # fmt: skip
    print(f"  time to the first job drawn: median {statistics.median(ms):.0f} ms "
          f"(each: {', '.join(f'{m:.0f}' for m in ms)}; goal under 1000 ms)")  # fmt: skip
    print(f"Node daemon CPU over {args.seconds:.0f} s each, % of one core:")
    print(f"  no dashboard open:       {idle:.2f}%")
    print(f"  {DASHBOARDS} dashboards open:      {watched:.2f}%")
    print(f"  added by {DASHBOARDS} dashboards:     {watched - idle:+.2f}% (goal under 2%)")


if __name__ == "__main__":
    main()
