"""This machine's podman: containers and pods, found by label."""

from __future__ import annotations

import json
from typing import Any

from tests.support.machine import run


def podman_json(*arguments: str) -> Any:
    return json.loads(run("podman", *arguments).stdout or "[]")


def containers_with_label(label: str) -> list[dict[str, Any]]:
    return list(podman_json("ps", "-a", "--format", "json", "--filter", f"label={label}"))


def app_container(job: str, index: int, container: str = "app") -> str:
    """The id of one container of an instance, its running one if it has one."""
    found = [
        item
        for item in containers_with_label(f"ozy.job={job}")
        if (item["Labels"] or {}).get("ozy.index") == str(index)
        and (item["Labels"] or {}).get("ozy.container") == container
    ]
    found.sort(key=lambda item: item["State"] != "running")
    if not found:
        raise AssertionError(f"no {container} container for {job}-{index}")
    return str(found[0]["Id"])


def pods_with_label(label: str) -> list[dict[str, Any]]:
    return list(podman_json("pod", "ps", "--format", "json", "--filter", f"label={label}"))


def running_spec_containers(job: str) -> list[dict[str, Any]]:
    """The job's running spec containers on every node (pods' infra containers left out)."""
    return [
        container
        for container in containers_with_label(f"ozy.job={job}")
        if "ozy.container" in (container["Labels"] or {}) and container["State"] == "running"
    ]
