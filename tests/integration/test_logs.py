"""`ozy logs` on a container its restart policy keeps restarting: `-f` follows it across
restarts, `--previous` shows the run before the last, `--timestamps` and `--since`."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from datetime import datetime

from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.waiting import wait_until

# Each run counts its runs in a file of the container's own filesystem, which a restart
# keeps, then prints four numbered lines and exits after about 2 s.
COUNTER = """
name: {name}
containers:
  count:
    image: localhost/ozy-example-tools:latest
    command:
      - sh
      - -c
      - >-
        run=$(( $(cat /tmp/runs 2>/dev/null || echo 0) + 1 )); echo $run > /tmp/runs;
        for line in 0 1 2 3; do echo "run $run line $line"; sleep 0.5; done
    restart: always
    memory: 16M
  steady:
    image: localhost/ozy-example-tools:latest
    command: ["sh", "-c", "echo steady; sleep 3600"]
    memory: 16M
"""
LINE = re.compile(r"run (\d+) line (\d)")
STAMPED = re.compile(r"(\S+) (run \d+ line \d)")


def ozy(node: NodeProcess, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OZY_API": node.api, "COLUMNS": "200"},
    )


def runs_and_lines(output: str) -> list[tuple[int, int]]:
    return [(int(run), int(line)) for run, line in LINE.findall(output)]


def complete_runs(lines: list[tuple[int, int]]) -> list[int]:
    return sorted({run for run, _ in lines if all((run, n) in lines for n in range(4))})


def restarts_of_count(node: NodeProcess, job: str) -> int:
    items = node.instances(job)
    containers = items[0]["containers"] if items else []
    return next((int(c["restarts"]) for c in containers if c["name"] == "count"), 0)


class Follower:
    """`ozy logs -f` in a subprocess; its stdout lines collected by a thread."""

    def __init__(self, node: NodeProcess, instance: str, container: str = "count") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ozymandias.cli.main", "logs", "-f", instance, "-c", container],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OZY_API": node.api},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)

    def text(self) -> str:
        while not self._lines.empty():
            self.lines.append(self._lines.get())
        return "".join(self.lines)

    def seen(self) -> list[tuple[int, int]]:
        return runs_and_lines(self.text())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)


def test_logs_follow_goes_on_across_restarts_and_ends_when_the_instance_is_gone(
    make_node: NodeFactory,
) -> None:
    node = make_node("logs-f")
    assert node.apply(COUNTER.format(name="follow")).status_code == 201
    node.wait_running("follow", 1)
    follower = Follower(node, "follow-0")
    try:
        # Runs 1 and 2 whole, and the start of run 3: two restarts followed.
        wait_until(
            lambda: (
                {1, 2} <= set(complete_runs(follower.seen()))
                and any(run >= 3 for run, _ in follower.seen())
            ),
            timeout=120,
            what="lines of three runs through one `ozy logs -f`",
        )
        seen = follower.seen()
        assert seen == sorted(seen) and len(seen) == len(set(seen)), follower.lines
        assert seen[:8] == [(run, line) for run in (1, 2) for line in range(4)], follower.lines
        assert node.request("DELETE", "/v1/jobs/follow").status_code == 200
        follower.process.wait(timeout=60)
        assert follower.process.stderr is not None
        said = follower.process.stderr.read()
        assert (follower.process.returncode, "follow-0 is gone" in said) == (0, True), said
    finally:
        follower.stop()


def test_logs_follow_ends_when_its_node_stops(make_node: NodeFactory) -> None:
    node = make_node("logs-s")
    assert node.apply(COUNTER.format(name="stops")).status_code == 201
    node.wait_running("stops", 1)
    follower = Follower(node, "stops-0", "steady")
    try:
        wait_until(lambda: "steady\n" in follower.text(), timeout=60, what="steady's line")
        stopping = time.monotonic()
        node.stop()
        # The node stops its pods, then its API: it does not wait for the follow.
        assert node.process is not None and node.process.returncode == 0
        assert time.monotonic() - stopping < 30
        follower.process.wait(timeout=30)
        assert follower.process.stderr is not None
        said = follower.process.stderr.read()
        # Its pods stop first, which ends the stream (a note, exit 0), unless the API was
        # gone by then (exit 1).
        ended = {0: "or the node that ran it stopped", 1: "stream"}
        assert ended[follower.process.returncode] in said, said
    finally:
        follower.stop()


def test_logs_previous_timestamps_and_since(make_node: NodeFactory) -> None:
    node = make_node("logs-p")
    assert node.apply(COUNTER.format(name="past")).status_code == 201
    wait_until(lambda: restarts_of_count(node, "past") >= 2, timeout=90, what="two restarts")

    def previous_run_once_settled() -> tuple[list[tuple[int, int]], int] | None:
        before = runs_and_lines(ozy(node, "logs", "past-0", "-c", "count").stdout)
        previous = ozy(node, "logs", "past-0", "-c", "count", "--previous")
        assert previous.returncode == 0, previous.stderr
        after = runs_and_lines(ozy(node, "logs", "past-0", "-c", "count").stdout)
        last = max(run for run, _ in after)
        # Compared only when no restart came between the reads.
        return (runs_and_lines(previous.stdout), last) if last == before[-1][0] else None

    previous, last = wait_until(previous_run_once_settled, timeout=60, what="a settled log")
    assert previous == [(last - 1, line) for line in range(4)]

    stamped = ozy(node, "logs", "past-0", "-c", "count", "--timestamps")
    assert stamped.returncode == 0, stamped.stderr
    pairs = STAMPED.findall(stamped.stdout)
    assert len(pairs) == len(stamped.stdout.splitlines()) >= 8, stamped.stdout
    times = [datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp, _ in pairs]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)

    # From the first line of run 2 on: runs 1's lines end at least 1.5 s before it.
    second_run = next(
        t for t, (_, text) in zip(times, pairs, strict=True) if text.startswith("run 2 ")
    )
    since = ozy(node, "logs", "past-0", "-c", "count", "--since", second_run.isoformat())
    assert since.returncode == 0, since.stderr
    assert min(run for run, _ in runs_and_lines(since.stdout)) == 2, since.stdout
    everything = ozy(node, "logs", "past-0", "-c", "count", "--since", "1h")
    assert runs_and_lines(everything.stdout)[:4] == [(1, line) for line in range(4)]

    never_restarted = ozy(node, "logs", "past-0", "-c", "steady", "--previous")
    assert never_restarted.returncode == 1
    assert "has not been restarted since it was created" in never_restarted.stderr
    bad = ozy(node, "logs", "past-0", "--since", "yesterday")
    assert bad.returncode == 2 and "is not a duration like 10s" in bad.stderr, bad.stderr
    refused = node.request("GET", "/v1/instances/past-0/logs", params={"since": "5 minutes"})
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    both = node.request("GET", "/v1/instances/past-0/logs", params={"previous": 1, "follow": 1})
    assert both.status_code == 400 and "previous and follow" in both.json()["detail"]
