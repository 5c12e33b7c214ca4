"""When `ozy apply` (and `ozy scale`) may call a job's new version a success, or a failure. Pure.

"Running" is not success: a container that exits after a second, one
OOM-killed in a loop, or one whose check fails all pass through "running".
So the version just submitted succeeds once every one of its instances is
settled (running and healthy, or a one-shot that completed) and has stayed
so, without a restart, for a settle time. It fails as soon as one of them
fails to start, turns unhealthy, or restarts repeatedly (a crash loop).
Older versions' instances are only waited for: their failures are not this
apply's outcome.

`judge` is called with each poll of `GET /v1/instances` and returns what it
remembers for the next call, so it is table-tested on sequences of polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SETTLE_SECONDS = 3.0
# Restarts during the wait, or quick exits in a row, that make a crash loop (one may be bad luck).
CRASH_LOOP_RESTARTS = 2


@dataclass(frozen=True)
class Memory:
    """What earlier polls showed, per instance of the new version."""

    first_restarts: dict[str, int] = field(default_factory=dict)
    settled_since: dict[str, tuple[float, int]] = field(default_factory=dict)
    """When the instance last became settled, and its restart count then."""


@dataclass(frozen=True)
class Verdict:
    line: str  # progress, e.g. "web: 2/3 running, 1 healthy for 3s"
    succeeded: bool = False
    failure: str | None = None  # why the version failed, naming the instance


def _settled(instance: dict[str, Any]) -> bool:
    if instance["state"] == "completed":
        return True
    return bool(instance["state"] == "running" and instance["health"] == "healthy")


def _failure(instance: dict[str, Any], restarted: int) -> str | None:
    name, reason = instance["name"], instance.get("reason") or ""
    because = f": {reason}" if reason else ""
    if instance["state"] == "failed":
        return f"{name} failed{because}"
    if instance["state"] == "running" and instance["health"] == "unhealthy":
        return f"{name} is unhealthy{because}"
    streak = max((c.get("crashStreak", 0) for c in instance.get("containers", [])), default=0)
    if restarted >= CRASH_LOOP_RESTARTS or streak >= CRASH_LOOP_RESTARTS:
        return f"{name} is crash-looping: restarted {max(restarted, streak)} times{because}"
    return None


def judge(
    memory: Memory,
    job: str,
    instances: list[dict[str, Any]],
    version: int,
    now: float,
    settle: float = SETTLE_SECONDS,
) -> tuple[Memory, Verdict]:
    """The verdict on `version` of `job` from one poll of its instances, and what to remember."""
    first_restarts = dict(memory.first_restarts)
    settled_since: dict[str, tuple[float, int]] = {}
    current = [item for item in instances if item.get("specVersion") == version]
    # specVersion 0: placed, and not yet reported on by its node.
    old = sum(1 for item in instances if item.get("specVersion") not in (0, version))
    settled_long = 0
    for instance in current:
        name, restarts = instance["name"], int(instance.get("restarts", 0))
        first = first_restarts.setdefault(name, restarts)
        failure = _failure(instance, restarts - first)
        if failure is not None:
            memory = Memory(first_restarts, settled_since)
            return memory, Verdict(_line(job, instances, old, version), failure=failure)
        if not _settled(instance):
            continue
        since, restarts_then = memory.settled_since.get(name, (now, restarts))
        if restarts_then != restarts:  # restarted since: the settle time starts again
            since = now
        settled_since[name] = (since, restarts)
        if now - since >= settle:
            settled_long += 1
    memory = Memory(first_restarts, settled_since)
    line = _line(job, instances, old, version)
    if old == 0 and settled_long == len(instances):
        held = f", healthy for {settle:.0f}s" if instances and settle else ""
        return memory, Verdict(line + held, succeeded=True)
    return memory, Verdict(line)


def _line(job: str, instances: list[dict[str, Any]], old: int, version: int) -> str:
    states = [item["state"] for item in instances]
    running = states.count("running")
    healthy = sum(1 for item in instances if item["state"] == "running" and _settled(item))
    line = f"{job}: {running}/{len(instances)} running"
    if running and healthy < running:
        line += f" ({healthy} healthy)"
    if states.count("completed"):
        line += f", {states.count('completed')} completed"
    if old:
        line += f" ({old} still to update to version {version})"
    return line
