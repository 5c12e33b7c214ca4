"""`ozy compose up`, `down`, `convert` and `ps`: a compose file's services as jobs
(compose/ converts them; this module submits, follows and removes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cli.app import (
    ApiOption,
    OutputOption,
    call,
    check_output,
    confirm,
    fail,
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
from ozymandias.cli.plan_command import YAML_HEADERS
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import instances_table
from ozymandias.compose.convert import PROJECT_LABEL, Conversion
from ozymandias.compose.findings import ComposeError
from ozymandias.compose.loader import choose_project, load_compose

compose_app = typer.Typer(
    help="Run a docker-compose file's services as jobs, one job per service."
    "\n\nExample: ozy compose up -f compose.yaml -p shop",
    no_args_is_help=True,
)

# The names compose looks for, in its order, when no -f is given.
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help=f"The compose file (default: the first of {', '.join(DEFAULT_FILES)} here).",
        show_default=False,
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project-name",
        "-p",
        help="Project name: jobs are PROJECT-SERVICE (default: $COMPOSE_PROJECT_NAME, the"
        " file's `name:`, else its directory's name).",
        show_default=False,
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Unsupported keys are errors, not warnings.")
]


def compose_file(file: Path | None) -> Path:
    if file is not None:
        return file
    for name in DEFAULT_FILES:
        if Path(name).is_file():
            return Path(name)
    raise fail(f"no compose file here ({', '.join(DEFAULT_FILES)}): pass -f FILE", code=2)


def conversion_of(file: Path | None, project: str | None, strict: bool) -> Conversion:
    """The file's jobs, its warnings printed; exit 2 naming every problem."""
    path = compose_file(file)
    try:
        conversion = load_compose(path, project, strict=strict)
    except ComposeError as error:
        raise fail(f"{path} cannot be run:\n{error}", code=2) from None
    for line in conversion.warnings:
        warn(line)
    return conversion


def up(
    file: FileOption = None,
    project: ProjectOption = None,
    strict: StrictOption = False,
    api: ApiOption = DEFAULT_API,
    detach: DetachOption = False,
    timeout: FollowTimeoutOption = None,
    settle: SettleOption = SETTLE_SECONDS,
) -> None:
    """Create or update a compose project's jobs, and follow each until it runs.

    Each service becomes the job PROJECT-SERVICE (label project=PROJECT); its
    file secrets become cluster secrets PROJECT-NAME, and each service is the
    DNS name SERVICE.PROJECT, which the project's pods find as SERVICE. Jobs
    are submitted in dependency order; a job's instances wait (state waiting)
    for the jobs it depends_on. Exits as `ozy apply` does, at the first job
    that fails.

    Example: ozy compose up -f compose.yaml -p shop
    """
    conversion = conversion_of(file, project, strict)
    submit(conversion, api, detach=detach, timeout=timeout, settle=settle)


def submit(
    conversion: Conversion, api: str, *, detach: bool, timeout: float | None, settle: float
) -> None:
    """Secrets, DNS names and jobs of a converted project, then its rollouts followed."""
    for secret, path in conversion.secret_files.items():
        try:
            value = Path(path).read_text()
        except OSError as error:
            raise fail(f"secret file {path}: {error.strerror}", code=2) from None
        call(api, "PUT", f"/v1/secrets/{secret}", json={"data": {"value": value}})
        out.print(f"secret {secret} set from {path}")
    for service, job_name in conversion.services.items():
        call(
            api,
            "PUT",
            f"/v1/dns/aliases/{service}.{conversion.project}",
            json={"targets": [f"{job_name}.job"]},
        )
    submitted: list[tuple[str, int | None, int]] = []
    for job in conversion.jobs:
        name = job["name"]
        before = job_version(api, name)
        body = yaml.safe_dump(job, sort_keys=False)
        result = call(api, "PUT", f"/v1/jobs/{name}", content=body, headers=YAML_HEADERS)
        for line in result.get("warnings", []):
            warn(line)
        verb = "created" if result["created"] else ("updated" if result["changed"] else "unchanged")
        out.print(f"job {name} {verb} (version {result['version']})")
        submitted.append((name, before, result["version"]))
    if detach:
        return
    for name, before, version in submitted:
        follow_the_rollout(api, name, before, version, timeout, settle)
    out.print(f"project {conversion.project}: {len(submitted)} job(s) running")


def project_jobs(api: str, project: str) -> list[dict[str, Any]]:
    return [
        job
        for job in call(api, "GET", "/v1/jobs")
        if job.get("labels", {}).get(PROJECT_LABEL) == project
    ]


def project_of(file: Path | None, project: str | None) -> str:
    """The project `down` and `ps` act on: -p, else the compose file's, as `up` chose it."""
    if project is not None:
        return choose_project(project, {}, {}, Path("."))
    try:
        conversion = load_compose(compose_file(file))
    except ComposeError as error:
        raise fail(f"cannot tell the project from the compose file: {error}", code=2) from None
    return conversion.project


def down(
    file: FileOption = None,
    project: ProjectOption = None,
    volumes: Annotated[
        bool, typer.Option("--volumes", "-v", help="Also remove the jobs' shared volumes.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    api: ApiOption = DEFAULT_API,
) -> None:
    """Delete a compose project's jobs, its services' DNS names and its file secrets.

    Shared volumes stay (as compose keeps named volumes) unless --volumes is given.
    Asks first on a terminal; pass --yes otherwise.

    Example: ozy compose down -p shop --yes
    """
    name = project_of(file, project)
    jobs = project_jobs(api, name)
    secrets = _project_secrets(file, name) if project is None else []
    confirm(
        f"delete project {name}: {len(jobs)} job(s){' and their volumes' if volumes else ''}?",
        yes=yes,
        refusal="compose down deletes jobs: pass --yes to do it without a terminal",
        declined="nothing was deleted",
    )
    params = {"purgeVolumes": "true"} if volumes else {}
    for job in reversed(jobs):
        call(api, "DELETE", f"/v1/jobs/{job['name']}", params=params)
        out.print(f"job {job['name']} deleted")
    job_targets = {f"{job['name']}.job" for job in jobs}
    for alias in call(api, "GET", "/v1/dns/aliases"):
        labels = alias["name"].split(".")
        targets = {target.split(".job.")[0] + ".job" for target in alias["targets"]}
        if len(labels) > 2 and labels[1] == name and targets <= job_targets:
            call(api, "DELETE", f"/v1/dns/aliases/{alias['name']}")
    for secret in secrets:
        call(api, "DELETE", f"/v1/secrets/{secret}")
        out.print(f"secret {secret} deleted")
    out.print(f"project {name} removed")


def _project_secrets(file: Path | None, project: str) -> list[str]:
    try:
        return list(load_compose(compose_file(file), project).secret_files)
    except ComposeError:
        return []


def convert(
    file: FileOption = None,
    project: ProjectOption = None,
    strict: StrictOption = False,
    output: Annotated[str, typer.Option("--output", "-o", help="yaml or json.")] = "yaml",
) -> None:
    """Print the jobs a compose file becomes (YAML documents, or a JSON list); submits nothing.

    Example: ozy compose convert -f compose.yaml -o json
    """
    if output not in ("yaml", "json"):
        raise fail(f"--output must be yaml or json, not {output!r}", code=2)
    conversion = conversion_of(file, project, strict)
    if output == "json":
        print_data("json", conversion.jobs)
        return
    text = yaml.safe_dump_all(conversion.jobs, sort_keys=False)
    out.print(text.rstrip(), highlight=False, soft_wrap=True, markup=False)


def ps(
    file: FileOption = None,
    project: ProjectOption = None,
    api: ApiOption = DEFAULT_API,
    output: OutputOption = "table",
) -> None:
    """List the instances of a compose project's jobs, as `ozy get instances` does.

    Example: ozy compose ps -p shop
    """
    check_output(output)
    name = project_of(file, project)
    instances = [
        item
        for item in call(api, "GET", "/v1/instances")
        if item.get("labels", {}).get(PROJECT_LABEL) == name
    ]
    if for_machines(output):
        print_data(output, instances)
    elif instances:
        print_table(out, instances_table(instances, output == "wide"))
    else:
        out.print(f"no instances of project {name}")


compose_app.command("up")(up)
compose_app.command("down")(down)
compose_app.command("convert")(convert)
compose_app.command("ps")(ps)
