"""A node's busyness in its record: the 1-minute load average per core, for load-aware ranking.

The design post planned to use "node busyness (probably in the form of load
averages) as a metric when scheduling". Each node publishes its own load in
its `Node` record, beside the threshold above which it asks to be passed over
(`ozy node run --load-threshold`), so any peer planning a job can rank it
(`scheduling/rankers.py:LoadPenalty`) without asking it anything.

Every node's mirror sees every rewrite of a node record, so the load is
written at most every `REPORT_EVERY` seconds and only when it moved by more
than `REPORT_CHANGE`: a steady cluster writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ozymandias.store.cluster_store import ClusterStore
from ozymandias.store.etcd import StoreUnavailable

log = logging.getLogger(__name__)

REPORT_EVERY = 10.0  # seconds between readings
REPORT_CHANGE = 0.1  # load per core it must move by to be written again


def load_per_core(loadavg: str, cores: int) -> float:
    """The 1-minute load average per core, from the text of /proc/loadavg."""
    fields = loadavg.split()
    if not fields:
        raise ValueError("empty load average")
    return round(float(fields[0]) / max(1, cores), 2)


def read_load(loadavg_file: Path, cores: int, *, again: bool = False) -> float | None:
    """The host's load per core now, or None (logged) when the file can't be read.

    `again`: the last reading failed too, so this failure is no news (DEBUG).
    """
    try:
        return load_per_core(loadavg_file.read_text(), cores)
    except (OSError, ValueError) as error:
        level = logging.DEBUG if again else logging.WARNING
        log.log(level, "cannot read the load average from %s: %s", loadavg_file, error)
        return None


def worth_reporting(reported: float, current: float) -> bool:
    """Whether `current` differs enough from the last `reported` load to be written."""
    return abs(current - reported) > REPORT_CHANGE


@dataclass
class LoadReporter:
    """Reads the host's load every `REPORT_EVERY` s and rewrites the node's record when it moved.

    `reported` starts at what the node registered with, so the first reading
    that matches it writes nothing.
    """

    store: ClusterStore
    node_name: str
    lease_id: Callable[[], int]  # the current term's lease, as `Membership.current`
    loadavg_file: Path
    cores: int
    reported: float
    unreadable: bool = False  # the last reading failed

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REPORT_EVERY)
            await self.report_once()

    async def report_once(self) -> None:
        current = read_load(self.loadavg_file, self.cores, again=self.unreadable)
        self.unreadable = current is None
        if current is None or not worth_reporting(self.reported, current):
            return
        try:
            if await self.store.update_node_load(self.node_name, current, self.lease_id()):
                self.reported = current
        except StoreUnavailable as error:  # the next reading tries again
            log.debug("load not reported: %s", error)
