"""`ozy restart INSTANCE`: a new pod for one instance, and the wait until it is healthy.

`ozy restart` takes a job or an instance (`JOB-INDEX`). A job may itself be
named like an instance (`web-3`, beside instance 3 of job `web`), so the name
is a job's if such a job exists, unless `--instance` says otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from ozymandias.cli.api_client import ApiError
from ozymandias.cli.app import call, err, fail, open_client, out
from ozymandias.cli.apply_verdict import Memory, judge
from ozymandias.cli.tables import instances_table


def job_exists(api: str, name: str) -> bool:
    """Whether a job of that name exists (exit 1 if the API can't say)."""
    client = open_client(api)
    try:
        client.request("GET", f"/v1/jobs/{name}")
    except ApiError as error:
        if error.problem.get("status") == 404:
            return False
        raise fail(str(error)) from None
    finally:
        client.close()
    return True


def restart_instance(api: str, name: str, *, wait: bool, timeout: float, settle: float) -> None:
    """Replace the pod of instance `name`; with `wait`, until the new one is healthy (or
    completed) for `settle` seconds, failing as apply does if it fails, crash-loops or
    turns unhealthy."""
    answer = call(api, "POST", f"/v1/instances/{name}/restart")
    out.print(f"instance {name} restarting on {answer['node']}")
    if wait:
        _wait_for_new_pod(api, name, float(answer["restartedAt"]), timeout, settle)


def new_pod_report(
    instances: list[dict[str, Any]], name: str, since: float
) -> dict[str, Any] | None:
    """The instance `name` as its node reported it after `since` (its new pod); None before."""
    found = (item for item in instances if item["name"] == name)
    return next((item for item in found if item.get("updatedAt", 0.0) >= since), None)


def _wait_for_new_pod(api: str, name: str, since: float, timeout: float, settle: float) -> None:
    job = name.rpartition("-")[0]
    deadline = time.monotonic() + timeout
    memory = Memory()
    line = f"{name}: waiting for its new pod"
    with err.status(f"waiting for {name}…") as status:
        while True:
            instances = call(api, "GET", "/v1/instances", params={"job": job})
            report = new_pod_report(instances, name, since)
            if report is not None:
                version = int(report["specVersion"])
                memory, verdict = judge(memory, name, [report], version, time.monotonic(), settle)
                line = verdict.line
                if verdict.failure is not None:
                    err.print(instances_table([report]))
                    raise fail(f"restart of {name} failed: {verdict.failure}")
                if verdict.succeeded:
                    break
            status.update(line)
            if time.monotonic() > deadline:
                raise fail(f"{name} was not healthy for {settle:.0f}s after {timeout:.0f}s: {line}")
            time.sleep(0.3)
    out.print(f"instance {name} restarted: {line}")
