"""What the multi-host tests check: where each instance really runs, and etcd's invariants."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx

from ozymandias.cluster.records import Resources
from ozymandias.scheduling.invariants import check_invariants
from tests.integration.harness import wait_until
from tests.integration.test_scheduling_race import read_cluster
from tests.multihost.hosts import Host

# An HTTP check every second, healthy after one pass (passes count from the start).
HEALTHCHECK = """\
    healthcheck:
      type: http
      port: 3000
      path: /healthcheck
      interval: 1
      timeout: 1
      healthy_threshold: 1
      start_period: 5
"""


def job_yaml(name: str, count: int, memory: str = "32M", *, healthcheck: bool = False) -> str:
    return f"""\
name: {name}
numInstances: {count}
containers:
  app:
    image: localhost/ozy-example-web:latest
    memory: {memory}
""" + (HEALTHCHECK if healthcheck else "")


def all_healthy(api_host: Host, job: str, count: int) -> bool:
    """Whether etcd reports `count` instances of the job, every one healthy."""
    try:
        states = reported(api_host, job)
    except httpx.HTTPError:
        return False
    return len(states) == count and all(item["health"] == "healthy" for item in states.values())


def running_on(hosts: Sequence[Host], job: str) -> dict[int, list[tuple[str, str]]]:
    """index -> [(host, container id)] of every running app container of the job."""
    found: dict[int, list[tuple[str, str]]] = {}
    for host in hosts:
        for index, container in host.running_instances(job).items():
            found.setdefault(index, []).append((host.name, container))
    return found


def reported(api_host: Host, job: str) -> dict[int, dict[str, Any]]:
    """index -> instance as the API reports it (from etcd)."""
    response = api_host.request("GET", "/v1/instances", params={"job": job})
    response.raise_for_status()
    return {item["index"]: item for item in response.json()}


def runs_exactly_once(
    hosts: Sequence[Host], api_host: Host, job: str, count: int
) -> dict[int, tuple[str, str]] | None:
    """index -> (host, container) if each instance runs on exactly one host and etcd agrees."""
    try:
        running = running_on(hosts, job)
        states = reported(api_host, job)
    except (httpx.HTTPError, OSError):
        return None
    if sorted(running) != list(range(count)) or any(len(v) != 1 for v in running.values()):
        return None
    for index, [(host, _)] in running.items():
        state = states.get(index)
        if state is None or state["state"] != "running" or state["node"] != host:
            return None
    return {index: where[0] for index, where in running.items()}


def wait_exactly_once(
    hosts: Sequence[Host], api_host: Host, job: str, count: int, timeout: float = 60
) -> dict[int, tuple[str, str]]:
    result: dict[int, tuple[str, str]] = wait_until(
        lambda: runs_exactly_once(hosts, api_host, job, count),
        timeout=timeout,
        interval=0.1,
        what=f"each of {count} instances of {job} running exactly once",
    )
    return result


def timed_exactly_once(
    hosts: Sequence[Host], api_host: Host, job: str, count: int, since: float
) -> tuple[float, dict[int, tuple[str, str]]]:
    """Wait until every instance runs exactly once; seconds since `since` (monotonic)."""
    placement = wait_exactly_once(hosts, api_host, job, count)
    return time.monotonic() - since, placement


def invariant_violations(endpoints: str) -> list[str]:
    """The scheduler's invariants over etcd, read at one revision."""
    nodes, allocations, jobs, schedules = asyncio.run(read_cluster(endpoints))
    pod_sizes = {
        name: Resources(memory=job.spec.pod_memory, disk=job.spec.pod_disk)
        for name, job in jobs.items()
    }
    capacities = {name: node.capacity for name, node in nodes.items()}
    violations = check_invariants(capacities, allocations, schedules.values(), pod_sizes)
    for name, job in jobs.items():
        schedule = schedules.get(name)
        placed = sorted(schedule.placements) if schedule else []
        pending = sorted(schedule.pending) if schedule else []
        if sorted(placed + pending) != list(range(job.spec.num_instances)):
            violations.append(f"{name}: placed {placed} and pending {pending}")
    return violations


def events(api_host: Host, kind: str, job: str | None = None) -> list[dict[str, Any]]:
    params = {"job": job} if job else {}
    response = api_host.request("GET", "/v1/events", params=params)
    response.raise_for_status()
    return [event for event in response.json() if event["kind"] == kind]
