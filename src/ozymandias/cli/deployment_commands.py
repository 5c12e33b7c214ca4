"""`ozy deployment status|fail`, `ozy promote` and `ozy get deployments`: see a job's
rollout, and act on it (promote its canaries, or fail it and revert)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

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
    show_list,
)
from ozymandias.cli.deployment_view import summary_line
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import deployment_instances_table, deployments_table

JobArgument = Annotated[str, typer.Argument(help="Job name.")]


def deployment_status(
    job: JobArgument, api: ApiOption = DEFAULT_API, output: OutputOption = "table"
) -> None:
    """Show a job's newest deployment: its status, counts and what it waits for.

    And each instance's version (old → new), state, health and node.

    Example: ozy deployment status simple-webapp
    """
    check_output(output)
    deployment = call(api, "GET", f"/v1/jobs/{job}/deployment")
    if for_machines(output):
        return print_data(output, deployment)
    _print_line(summary_line(deployment))
    if deployment["failedInstance"]:
        _print_line(f"failed instance: {deployment['failedInstance']}")
    if deployment["instances"]:
        print_table(out, deployment_instances_table(deployment["instances"], output == "wide"))


def deployment_fail(
    job: JobArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Fail a job's active deployment, going back to the last stable version with auto_revert.

    The new version's instances (canaries too) are stopped. Asks first on a
    terminal (or pass --yes).

    Example: ozy deployment fail simple-webapp --yes
    """
    check_output(output)
    confirm(
        f"failing the deployment of {job}: its new version's instances are stopped, and it "
        "goes back to its last stable version if auto_revert is on. Go ahead?",
        yes=yes,
        refusal=f"failing the deployment of {job} cannot be undone: pass --yes to do it "
        "without a terminal",
        declined="the deployment goes on",
    )
    deployment = call(api, "POST", f"/v1/jobs/{job}/deployment/fail")
    if for_machines(output):
        return print_data(output, deployment)
    _print_line(
        f"the deployment of {job} version {deployment['version']} is marked to fail; it fails"
        f" at the deployer's next step (`ozy deployment status {job}`)"
    )


def promote(job: JobArgument, api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """Promote the canaries of a job's deployment: the rollout of its new version goes on.

    Example: ozy promote simple-webapp
    """
    check_output(output)
    deployment = call(api, "POST", f"/v1/jobs/{job}/promote")
    if for_machines(output):
        return print_data(output, deployment)
    _print_line(
        f"the canaries of {job} version {deployment['version']} are promoted: the rollout goes"
        f" on (`ozy deployment status {job}`)"
    )


def get_deployments(api: ApiOption = DEFAULT_API, output: OutputOption = "table") -> None:
    """List the newest deployment of every job: version, status, counts, what it waits for.

    Example: ozy get deployments
    """
    show_list(api, "/v1/deployments", output, deployments_table, "no deployments")


def _print_line(line: str) -> None:
    # Job names and descriptions are data, not rich markup.
    out.print(escape(line), highlight=False, soft_wrap=True)
