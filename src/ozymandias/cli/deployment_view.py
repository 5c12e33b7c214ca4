"""What `ozy apply` and `ozy deployment status` make of a deployment's JSON. Pure.

A deployment (GET /v1/jobs/NAME/deployment) becomes a summary line, one row
per instance, and, for the version an apply submitted, a verdict: still
going, or over with an exit code and why. A job keeps one deployment record,
its newest version's, so the version followed may be replaced: by its own
revert (it failed), or by a newer version (it was cancelled).

`changed_lines` gives what a non-terminal output prints at each poll: only
the lines that differ from the previous poll's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]

SUMMARY = "deployment"  # the key of the summary among `lines_by_key`'s


@dataclass(frozen=True)
class Outcome:
    done: bool
    exit_code: int = 0
    message: str = ""


ONGOING = Outcome(done=False)


def verdict(
    version: int, deployment: Json | None, last_own: Json | None = None, why: str = ""
) -> Outcome:
    """Whether the deployment of `version` is over, and how `ozy apply` exits for it.

    `deployment` is the job's deployment now (any version, None when it has
    none yet); `last_own` the last one seen of `version`, whose reasons a
    revert that replaced it no longer carries; `why` its failure as the job's
    events tell it (see `missed_failure` and `failure_in_events`).
    """
    if deployment is None or deployment["version"] < version:
        return ONGOING  # not written yet, as the node's mirror has it
    job = deployment["job"]
    if deployment["version"] > version:
        if deployment["revertOf"] == version:
            if last_own is not None and _ended(last_own):
                reasons = _why_failed(last_own)
            else:  # its failed record came and went between two polls
                reasons = f": {why}" if why else ""
            return Outcome(
                True,
                1,
                f"version {version} of {job} failed{reasons}; reverted: version "
                f"{deployment['version']} is rolling out (`ozy deployment status {job}`)",
            )
        return Outcome(
            True,
            1,
            f"version {version} of {job} was cancelled: version "
            f"{deployment['version']} replaced it",
        )
    status = deployment["status"]
    if status == "successful":
        return Outcome(
            True,
            0,
            f"version {version} of {job} deployed: {deployment['healthy']}/"
            f"{deployment['desired']} healthy",
        )
    if status == "paused":
        return Outcome(
            True,
            0,
            f"version {version} of {job}: {deployment['canary']} canary(ies) healthy, waiting for"
            f" promotion: run `ozy promote {job}` (or `ozy deployment fail {job}` to abandon it)",
        )
    if _ended(deployment):
        reverted = "; reverted to the last stable version" if status == "reverted" else ""
        return Outcome(
            True, 1, f"version {version} of {job} failed{_why_failed(deployment)}{reverted}"
        )
    return ONGOING


def _ended(deployment: Json) -> bool:
    return deployment["status"] in ("failed", "reverted")


def missed_failure(version: int, deployment: Json | None, last_own: Json | None) -> bool:
    """Whether `version` was reverted before a poll saw it fail: its reasons are then in the
    job's events only."""
    return (
        deployment is not None
        and deployment["version"] > version
        and deployment["revertOf"] == version
        and (last_own is None or not _ended(last_own))
    )


def failure_in_events(version: int, events: Sequence[Json]) -> str:
    """Why `version`'s deployment failed, as the newest event saying so tells; "" if none."""
    said = f"deployment of version {version} failed: "
    for event in reversed(events):
        if event["message"].startswith(said):
            return str(event["message"]).removeprefix(said)
    return ""


def _why_failed(deployment: Json) -> str:
    """`: <description>; <failed instance>; failed by <who>`, each only once."""
    shown: list[str] = []
    for reason in (
        deployment["description"],
        deployment["failedInstance"],
        f"failed {deployment['failRequested']}" if deployment["failRequested"] else "",
    ):
        if reason and not any(reason in earlier for earlier in shown):
            shown.append(reason)
    return ": " + "; ".join(shown) if shown else ""


def troubles(deployment: Json) -> list[str]:
    """The new version's instances that failed, are unhealthy or restarted, and why: what a
    follow that ran out of time says, since the deployment has not failed (yet)."""
    found = []
    for instance in deployment["instances"]:
        if instance["version"] != deployment["version"]:
            continue
        if instance["state"] == "failed":
            what = "failed"
        elif instance["health"] == "unhealthy":
            what = "is unhealthy"
        elif instance["restarts"]:
            what = f"restarted {instance['restarts']} time(s)"
        else:
            continue
        because = f": {instance['reason']}" if instance["reason"] else ""
        found.append(f"{instance['name']} {what}{because}")
    return found


def summary_line(deployment: Json) -> str:
    """`web version 2 running: 1/3 healthy, 2 placed — waiting for web-3 to be healthy`."""
    counts = (
        f"{deployment['healthy']}/{deployment['desired']} healthy, {deployment['placed']} placed"
    )
    if deployment["unhealthy"]:
        counts += f", {deployment['unhealthy']} unhealthy"
    if deployment["canary"]:
        promoted = "promoted" if deployment["promoted"] else "not promoted"
        counts += f", {deployment['canary']} canary(ies) {promoted}"
    line = f"{deployment['job']} version {deployment['version']} {deployment['status']}: {counts}"
    if deployment["revertOf"]:
        line += f" (reverting version {deployment['revertOf']})"
    if deployment["description"]:
        line += f" — {deployment['description']}"
    return line


def versions_text(instance: Json) -> str:
    """`v1 → v2` while an instance runs an older version than it should; `v2` once it runs it."""
    wanted, running = instance["version"], instance["runningVersion"]
    if running == wanted:
        return f"v{wanted}"
    return f"{'-' if running is None else f'v{running}'} → v{wanted}"


def instance_row(instance: Json) -> tuple[str, str, str, str, str, str]:
    """INSTANCE, VERSION, STATE, HEALTH, NODE, NOTE."""
    notes = []
    if instance["canary"]:
        notes.append("canary")
    if instance["replaces"] is not None:
        notes.append(f"replaces #{instance['replaces']}")
    if instance["restarts"]:
        notes.append(f"{instance['restarts']} restart(s)")
    if instance["reason"]:
        notes.append(instance["reason"])
    return (
        instance["name"],
        versions_text(instance),
        instance["state"],
        instance["health"] or "-",
        instance["node"] or "-",
        "; ".join(notes),
    )


def lines_by_key(deployment: Json) -> dict[str, str]:
    """The summary, and one line per instance, keyed so a poll can be compared with the last."""
    lines = {SUMMARY: summary_line(deployment)}
    for instance in deployment["instances"]:
        lines[instance["name"]] = "  " + "  ".join(cell for cell in instance_row(instance) if cell)
    return lines


def changed_lines(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The lines of `current` that are new or differ from `previous`, in `current`'s order."""
    return [line for key, line in current.items() if previous.get(key) != line]


def elapsed_text(seconds: float) -> str:
    """`42s`, `3m05s`."""
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"
