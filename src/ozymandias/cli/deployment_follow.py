"""Following a deployment to its end, as `ozy apply` does: poll it and show its progress.

On a terminal the progress is a live view (rich's `Live`): the deployment's
counts and what it waits for, one line per instance and the time elapsed,
redrawn in place. Anywhere else (CI, a pipe) it is plain lines, printed only
when something changed, so a log shows each step once. What is shown, and
when it is over, is decided in deployment_view.py.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from ozymandias.cli.api_client import ApiClient, ApiError
from ozymandias.cli.app import fail, open_client, out
from ozymandias.cli.deployment_view import (
    ONGOING,
    Outcome,
    changed_lines,
    elapsed_text,
    failure_in_events,
    lines_by_key,
    missed_failure,
    summary_line,
    troubles,
    verdict,
)
from ozymandias.cli.tables import deployment_instances_table

POLL_SECONDS = 0.5
# A failure's event is among the job's newest: the revert that followed it adds a few.
EVENTS_READ = 50
# The node that answered the submit wrote the deployment in the same commit;
# its own mirror shows it within milliseconds. A new version without one (a
# cluster whose nodes do not deploy yet) is told by its absence.
APPEARS_WITHIN_SECONDS = 3.0


def job_version(api: str, job: str) -> int | None:
    """The job's current version; None when there is no such job."""
    client = open_client(api)
    try:
        return int(client.request("GET", f"/v1/jobs/{job}")["version"])
    except ApiError as error:
        if str(error.problem.get("type", "")).endswith("#job-not-found"):
            return None
        raise fail(str(error)) from None
    finally:
        client.close()


def fetch_deployment(client: ApiClient, job: str) -> dict[str, Any] | None:
    """The job's deployment, or None when it has none (yet)."""
    try:
        deployment: dict[str, Any] = client.request("GET", f"/v1/jobs/{job}/deployment")
    except ApiError as error:
        if str(error.problem.get("type", "")).endswith("#deployment-not-found"):
            return None
        raise fail(str(error)) from None
    return deployment


def fetch_events(client: ApiClient, job: str) -> list[dict[str, Any]]:
    """The job's recent events, oldest first."""
    try:
        events: list[dict[str, Any]] = client.request(
            "GET", "/v1/events", params={"job": job, "limit": EVENTS_READ}
        )
    except ApiError as error:
        raise fail(str(error)) from None
    return events


def follow_deployment(api: str, job: str, version: int, timeout: float | None) -> bool:
    """Follow the deployment of `version` of `job` until it is over (or `timeout` seconds
    pass), and exit as it ends (raises `typer.Exit` but on success, or on a pause for
    promotion). Without a timeout the deployment's own deadlines end it.

    Returns False at once if no deployment of `version` appears: the caller
    waits for the instances instead.
    """
    client = open_client(api)
    try:
        return _follow(client, job, version, timeout)
    finally:
        client.close()


def _follow(client: ApiClient, job: str, version: int, timeout: float | None) -> bool:
    started = time.monotonic()
    limit = math.inf if timeout is None else timeout
    deployment = fetch_deployment(client, job)
    while deployment is None or deployment["version"] < version:
        if time.monotonic() - started > min(APPEARS_WITHIN_SECONDS, limit):
            return False
        time.sleep(POLL_SECONDS / 2)
        deployment = fetch_deployment(client, job)
    live = out.is_terminal
    shown: dict[str, str] = {}
    last_own: dict[str, Any] | None = None
    outcome = ONGOING
    view: AbstractContextManager[Live | None] = (
        Live(_rendered(deployment, 0.0), console=out, refresh_per_second=4) if live
        else nullcontext()
    )  # fmt: skip
    with view as screen:
        while True:
            elapsed = time.monotonic() - started
            if deployment is not None:
                if deployment["version"] == version:
                    last_own = deployment
                if screen is not None:
                    screen.update(_rendered(deployment, elapsed))
                else:
                    shown = _print_changes(shown, deployment, elapsed)
            why = ""
            if missed_failure(version, deployment, last_own):
                events = fetch_events(client, job)
                why = failure_in_events(version, events)
            outcome = verdict(version, deployment, last_own, why)
            if outcome.done or elapsed > limit:
                break
            time.sleep(POLL_SECONDS)
            deployment = fetch_deployment(client, job)
    _end(job, version, limit, outcome, last_own)
    return True


def _print_changes(
    shown: dict[str, str], deployment: dict[str, Any], elapsed: float
) -> dict[str, str]:
    """Print the lines that changed since the last poll; return what is shown now."""
    lines = lines_by_key(deployment)
    for line in changed_lines(shown, lines):
        # Unwrapped: a log keeps each line whole.
        out.print(
            f"[{elapsed_text(elapsed)}] {line}", markup=False, highlight=False, soft_wrap=True
        )
    return lines


def _rendered(deployment: dict[str, Any], elapsed: float) -> RenderableType:
    # With the NOTE (why an instance waits, what it replaces): what a rollout is watched for.
    # Fitted to the screen by rich, unlike printed tables: a live view must not wrap.
    return Group(
        Text(summary_line(deployment)),
        deployment_instances_table(deployment["instances"], wide=True),
        Text(f"elapsed {elapsed_text(elapsed)}", style="dim"),
    )


def _end(
    job: str, version: int, timeout: float, outcome: Outcome, last_own: dict[str, Any] | None
) -> None:
    if not outcome.done:
        status = f"still {last_own['status']}" if last_own is not None else "not started"
        found = troubles(last_own) if last_own is not None else []
        raise fail(
            f"the deployment of version {version} of {job} is {status} after {timeout:.0f}s"
            + "".join(f"; {trouble}" for trouble in found)
            + f"; it goes on: follow it with `ozy deployment status {job}`"
        )
    if outcome.exit_code != 0:
        raise fail(outcome.message, code=outcome.exit_code)
    out.print(escape(outcome.message), highlight=False, soft_wrap=True)
