"""`ozy apply`, `scale` and `restart`, and the wait for a job's instances to run that
`scale` ends with (and `apply`, when it made no new version to follow the deployment of:
see deployment_follow.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    DEFAULT_WAIT_SECONDS,
    ApiOption,
    call,
    err,
    fail,
    out,
    read_text,
    warn,
)
from ozymandias.cli.apply_verdict import SETTLE_SECONDS, Memory, judge
from ozymandias.cli.deployment_follow import follow_deployment, job_version
from ozymandias.cli.instance_restart import job_exists, restart_instance
from ozymandias.cli.plan_command import YAML_HEADERS, show_plan
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import instances_table
from ozymandias.compose.loader import is_compose
from ozymandias.spec.loader import SpecError, load_job, load_yaml

# What apply, scale and restart share: how long to wait, and whether to.
TimeoutOption = Annotated[
    float, typer.Option(help="Seconds to wait for every instance to be healthy.")
]
NoWaitOption = Annotated[bool, typer.Option("--no-wait", help="Return once committed.")]
SettleOption = Annotated[
    float,
    typer.Option(
        help="Seconds every instance must stay healthy (or completed), without a restart.",
        min=0,
    ),
]
# What apply and rollback share: they follow a new version's deployment.
DetachOption = Annotated[
    bool,
    typer.Option(
        "--detach", "--no-wait", help="Return once committed, without following the rollout."
    ),
]
FollowTimeoutOption = Annotated[
    float | None,
    typer.Option(
        help="Seconds to follow the deployment (default: to its end, which its deadlines"
        f" bound), or to wait for the instances (default {DEFAULT_WAIT_SECONDS:.0f}).",
        show_default=False,
    ),
]


def apply(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Job spec (YAML or JSON); - for stdin.")
    ],
    api: ApiOption = DEFAULT_API,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Commit nothing: show the plan, as `ozy plan -f FILE` does (and exit as it).",
        ),
    ] = False,
    check_index: Annotated[
        int | None,
        typer.Option(
            help="Apply only if the job is still at this modify index (`ozy plan` shows it; "
            "0: only if the job does not exist yet).",
            min=0,
            show_default=False,
        ),
    ] = None,
    detach: DetachOption = False,
    timeout: FollowTimeoutOption = None,
    settle: SettleOption = SETTLE_SECONDS,
) -> None:
    """Submit a job, or update it, and follow its deployment to its end.

    A compose file (top-level `services:`) is run as `ozy compose up -f FILE` runs it.

    A new version rolls out as its deployment (the job's `update` block) decides:
    apply shows each instance (old version → new, state, health, node), the
    deployment's counts and what it waits for, live on a terminal and as plain
    lines elsewhere. It exits 0 when the deployment succeeds, or pauses with
    canaries for `ozy promote`; 1 when it fails, is reverted or replaced,
    saying why. Without a new version (only the number of instances changed,
    or nothing) or a deployment of it, it waits until every instance is
    running and healthy (or completed) for --settle seconds, and fails as soon
    as one fails to start, turns unhealthy or crash-loops.

    Example: ozy apply -f examples/simple-webapp.yaml --check-index 42
    """
    if dry_run:
        show_plan(file, api)
    text = read_text(file)
    if str(file) != "-" and _is_compose_text(text):
        # Imported here: compose_commands builds on this module's follow_the_rollout.
        from ozymandias.cli.compose_commands import conversion_of, submit

        conversion = conversion_of(file, None, strict=False)
        submit(conversion, api, detach=detach, timeout=timeout, settle=settle)
        return
    try:
        spec = load_job(text)
    except SpecError as error:
        raise fail(f"{file} is not a valid job:\n{error}", code=2) from None
    params = {} if check_index is None else {"checkIndex": str(check_index)}
    path = f"/v1/jobs/{spec.name}"
    # Read first: only a new version rolls out as a deployment to follow.
    before = job_version(api, spec.name)
    result = call(api, "PUT", path, params=params, content=text, headers=YAML_HEADERS)
    for warning in result.get("warnings", []):
        warn(warning)
    verb = "created" if result["created"] else ("updated" if result["changed"] else "unchanged")
    out.print(
        f"job {spec.name} {verb} "
        f"(version {result['version']}, {result['numInstances']} instance(s)"
        f"{' on every eligible node' if result.get('type') == 'system' else ''})"
    )
    print_preempted(result)
    if not detach:
        follow_the_rollout(api, spec.name, before, result["version"], timeout, settle)


def _is_compose_text(text: str) -> bool:
    """A compose file (top-level `services:`) rather than a job; a bad YAML is apply's error."""
    try:
        return is_compose(load_yaml(text))
    except SpecError:
        return False


def print_preempted(result: dict[str, Any]) -> None:
    """The instances of other jobs a commit stopped to make room (they wait, pending, for it)."""
    victims = result.get("preempted", [])
    if victims:
        listing = ", ".join(
            f"{v['name']} on {v['node']} (priority {v['priority']})" for v in victims
        )
        out.print(f"preempted {listing}", highlight=False, soft_wrap=True)


def follow_the_rollout(
    api: str, job: str, before: int | None, version: int, timeout: float | None, settle: float
) -> None:
    """Follow the deployment of `version` to its end if a submit made it a new version (the
    job was at `before`); else, or without a deployment of it, wait for the instances."""
    if not (version != before and follow_deployment(api, job, version, timeout)):
        wait = DEFAULT_WAIT_SECONDS if timeout is None else timeout
        wait_for_instances(api, job, version, wait, settle)


def scale(
    job: Annotated[str, typer.Argument(help="Job name.")],
    instances: Annotated[int, typer.Argument(help="The new number of instances.", min=0)],
    api: ApiOption = DEFAULT_API,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_WAIT_SECONDS,
    settle: SettleOption = SETTLE_SECONDS,
) -> None:
    """Change a job's number of instances, and wait until every one is healthy (as apply does).

    Example: ozy scale simple-webapp 5
    """
    result = call(api, "POST", f"/v1/jobs/{job}/scale", json={"numInstances": instances})
    out.print(
        f"job {job} scaled to {instances}: "
        f"{len(result['placed'])} placed, {len(result['stopped'])} stopped"
    )
    print_preempted(result)
    if not no_wait:
        wait_for_instances(api, job, result["version"], timeout, settle)


def restart(
    name: Annotated[str, typer.Argument(help="A job, or one of its instances (JOB-INDEX).")],
    instance: Annotated[
        bool,
        typer.Option(
            "--instance", help="NAME is an instance, even if a job is named so too (e.g. web-3)."
        ),
    ] = False,
    api: ApiOption = DEFAULT_API,
    no_wait: NoWaitOption = False,
    timeout: TimeoutOption = DEFAULT_WAIT_SECONDS,
    settle: SettleOption = SETTLE_SECONDS,
) -> None:
    """Restart a job's pods one at a time, or one instance's pod; wait until healthy again.

    `ozy restart JOB` is a rolling restart: a new version of the same spec, so a
    node replaces an instance only once the ones before it are healthy again (as
    an update does). `ozy restart JOB-INDEX` replaces that instance's pod only,
    at the version it runs, and leaves the job's other instances alone. A name
    that is both a job and an instance is the job, unless --instance is given.

    Example: ozy restart simple-webapp-0
    """
    if instance or not job_exists(api, name):
        restart_instance(api, name, wait=not no_wait, timeout=timeout, settle=settle)
        return
    result = call(api, "POST", f"/v1/jobs/{name}/restart")
    out.print(f"job {name} restarting (version {result['version']})")
    if not no_wait:
        wait_for_instances(api, name, result["version"], timeout, settle)


def wait_for_instances(api: str, job: str, version: int, timeout: float, settle: float) -> None:
    """Show progress until every instance of `version` is healthy (or completed) and has stayed
    so for `settle` seconds, or one fails, or time runs out (see apply_verdict.py)."""
    deadline = time.monotonic() + timeout
    memory = Memory()
    with err.status(f"waiting for {job}…") as status:
        while True:
            instances = call(api, "GET", "/v1/instances", params={"job": job})
            memory, verdict = judge(memory, job, instances, version, time.monotonic(), settle)
            status.update(verdict.line)
            if verdict.failure is not None:
                print_table(err, instances_table(instances, wide=True))
                raise fail(f"version {version} of {job} failed: {verdict.failure}")
            if verdict.succeeded:
                break
            if time.monotonic() > deadline:
                print_table(err, instances_table(instances, wide=True))
                raise fail(
                    f"not every instance of {job} was healthy for {settle:.0f}s "
                    f"after {timeout:.0f}s: {verdict.line}"
                )
            time.sleep(0.3)
    out.print(verdict.line)
