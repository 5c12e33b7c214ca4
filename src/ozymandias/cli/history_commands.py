"""`ozy history` and `ozy rollback`: a job's kept versions, and going back to one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    confirm,
    for_machines,
    out,
    print_data,
    warn,
)
from ozymandias.cli.apply_verdict import SETTLE_SECONDS
from ozymandias.cli.deployment_follow import job_version
from ozymandias.cli.job_commands import (
    DetachOption,
    FollowTimeoutOption,
    SettleOption,
    follow_the_rollout,
)
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import versions_table

_NO_VERSIONS = "no versions of {job} are kept (those submitted before history was kept are not)"


def history(
    job: Annotated[str, typer.Argument(help="Job name.")],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List a job's last 10 versions (those kept), newest first.

    Each with when it was submitted, its deployment's status, whether it is
    stable (its deployment succeeded, so `ozy rollback` may go back to it),
    and what changed since the version before.

    Example: ozy history simple-webapp
    """
    check_output(output)
    versions = call(api, "GET", f"/v1/jobs/{job}/versions")
    if for_machines(output):
        return print_data(output, versions)
    print_table(out, versions_table(versions) if versions else _NO_VERSIONS.format(job=job))


def rollback(
    job: Annotated[str, typer.Argument(help="Job name.")],
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="The version to go back to (`ozy history` lists them); default: the newest"
            " stable version before the current one.",
            min=1,
            show_default=False,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation first.")
    ] = False,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
    detach: DetachOption = False,
    timeout: FollowTimeoutOption = None,
    settle: SettleOption = SETTLE_SECONDS,
) -> None:
    """Roll a job back to an earlier version: submit that version's spec again, as a new version.

    The whole spec is restored, as Nomad's `job revert` does: images,
    environment, resources, and the number of instances that version had (so
    a later `ozy scale` is undone too). The new version rolls out as an
    update does, through a deployment. Asks first on a terminal (or pass
    --yes), then follows the deployment to its end and exits as `apply` does;
    `-o json` prints the API's answer and returns without following.

    Example: ozy rollback simple-webapp --to 3
    """
    check_output(output)
    path = f"/v1/jobs/{job}/rollback"
    body: dict[str, Any] = {"json": {"version": to}} if to is not None else {}
    preview = call(api, "POST", path, params={"dryRun": "true"}, **body)
    target = preview["rolledBackTo"]
    if not preview["changed"]:
        # The same spec again would make no new version: there is nothing to roll back.
        if for_machines(output):
            return print_data(output, preview)
        out.print(f"job {job} already runs the spec of version {target}: nothing to do")
        return
    confirm(
        f"Roll job {job} back to version {target} ({preview['changes']})?",
        yes=yes,
        refusal=f"rolling {job} back changes its running instances: pass --yes to do it"
        " without a terminal",
        declined="nothing was rolled back",
    )
    before = job_version(api, job)
    # The version confirmed, by number: a newer stable one may have come meanwhile.
    result = call(api, "POST", path, json={"version": target})
    if for_machines(output):
        return print_data(output, result)
    for warning in result["warnings"]:
        warn(warning)
    out.print(
        f"job {job} rolled back to version {target}'s spec: version {result['version']},"
        f" {result['numInstances']} instance(s) ({result['changes']})"
    )
    if not detach:
        follow_the_rollout(api, job, before, result["version"], timeout, settle)
