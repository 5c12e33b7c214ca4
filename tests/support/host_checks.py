"""What the multi-host tests check: where each instance really runs, and what etcd reports."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from tests.support.hosts import Host
from tests.support.waiting import wait_until


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


def events(api_host: Host, kind: str, job: str | None = None) -> list[dict[str, Any]]:
    params = {"job": job} if job else {}
    response = api_host.request("GET", "/v1/events", params=params)
    response.raise_for_status()
    return [event for event in response.json() if event["kind"] == kind]
