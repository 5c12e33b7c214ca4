"""`ozy plan -f job.yaml` (and `ozy apply --dry-run`, the same): what applying would do.

Exit codes as `nomad job plan`'s, so a script can tell: 0 when nothing would
change, 1 when something would, 255 when the plan could not be made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    fail,
    for_machines,
    out,
    print_data,
    read_text,
    warn,
)
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import plan_instances_table
from ozymandias.plans.spec_diff import diff_from_json, diff_lines
from ozymandias.spec.loader import SpecError, load_job

NO_CHANGES = 0
CHANGES = 1
PLAN_FAILED = 255
YAML_HEADERS = {"content-type": "application/yaml"}
_OP_STYLES = {"+": "green", "-": "red", "~": "yellow"}


def plan(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="Job spec (YAML or JSON); - for stdin.")
    ],
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """Show what `ozy apply` would do, writing nothing.

    The changes to the spec, field by field, what happens to each instance and
    on which node, whether it fits, and the job's modify index for `ozy apply
    --check-index`.

    Exits 0 when nothing would change, 1 when something would, 255 on an error.

    Example: ozy plan -f examples/simple-webapp.yaml
    """
    show_plan(file, api, output)


def show_plan(file: Path, api: str, output: str = "table") -> NoReturn:
    """Plan the job in `file`, print the plan, and exit with the plan's code."""
    try:
        result = _plan(file, api, output)
    except typer.Exit:
        # Whatever failed (an option, the file, the spec or the API) printed why; for a
        # script, any plan that could not be made is one code.
        raise typer.Exit(PLAN_FAILED) from None
    if for_machines(output):
        print_data(output, result)
    else:
        _print_plan(result, file)
    raise typer.Exit(CHANGES if result["changed"] else NO_CHANGES)


def _plan(file: Path, api: str, output: str) -> dict[str, Any]:
    check_output(output)
    text = read_text(file)
    try:
        spec = load_job(text)
    except SpecError as error:
        raise fail(f"{file} is not a valid job:\n{error}") from None
    path = f"/v1/jobs/{spec.name}/plan"
    result: dict[str, Any] = call(api, "POST", path, content=text, headers=YAML_HEADERS)
    return result


def _print_plan(result: dict[str, Any], file: Path) -> None:
    for warning in result["warnings"]:
        warn(warning)
    name = result["name"]
    if not result["changed"]:
        out.print(f"job {escape(name)}: no changes", highlight=False)
    for line in diff_lines(diff_from_json(result["diff"]), name):
        op = line.lstrip()[0]
        out.print(f"[{_OP_STYLES[op]}]{escape(line)}[/]", highlight=False, soft_wrap=True)
    rejection = result["rejection"]
    if rejection is not None:
        out.print(
            f"\n[bold red]does not fit:[/] {escape(rejection['title'])}: "
            f"{escape(rejection['detail'])}",
            highlight=False,
            soft_wrap=True,
        )
    elif result["instances"]:
        summary = ", ".join(f"{count} {action}" for action, count in result["counts"].items())
        out.print(f"\n[bold]Instances[/] ({summary})")
        print_table(out, plan_instances_table(result["instances"]))
    index = result["modifyIndex"]
    out.print(f"\njob modify index: {index}", highlight=False)
    if result["changed"]:
        out.print(
            "to apply this plan only if the job has not changed meanwhile:\n"
            f"  ozy apply -f {escape(str(file))} --check-index {index}",
            highlight=False,
            soft_wrap=True,
        )
