"""Reading a compose file from disk: its `.env`, its env_files, interpolation, the schema
check, the conversion and the check of every job against the job spec."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ozymandias.compose import process
from ozymandias.compose.convert import Conversion, convert
from ozymandias.compose.findings import ComposeError
from ozymandias.compose.interpolation import InterpolationError, interpolate_tree, parse_env_file
from ozymandias.compose.names import project_name
from ozymandias.compose.schema import schema_errors
from ozymandias.spec.loader import SpecError, job_from_data, load_yaml


def is_compose(data: Any) -> bool:
    """A compose file, not a job spec: it has top-level `services:` (a job has `containers:`)."""
    return isinstance(data, dict) and "services" in data and "containers" not in data


def choose_project(
    given: str | None, environ: Mapping[str, str], document: Mapping[str, Any], directory: Path
) -> str:
    """As compose: -p, else COMPOSE_PROJECT_NAME, else the file's `name:`, else its directory."""
    for candidate in (given, environ.get("COMPOSE_PROJECT_NAME"), document.get("name")):
        if candidate:
            return project_name(str(candidate))
    return project_name(directory.resolve().name)


def load_compose(
    path: Path,
    project: str | None = None,
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Conversion:
    """The jobs of the compose file at `path`; ComposeError says everything that is wrong."""
    environ = os.environ if environ is None else environ
    directory = path.parent
    try:
        raw = load_yaml(path.read_text())
    except OSError as error:
        raise ComposeError(f"{path}: {error.strerror}") from None
    except SpecError as error:
        raise ComposeError(f"{path}: {error}") from None
    if not is_compose(raw):
        raise ComposeError(f"{path} is not a compose file: it has no top-level services")
    env = {**_dotenv(directory), **environ}
    unset: set[str] = set()
    try:
        document = interpolate_tree(raw, env, unset)
    except InterpolationError as error:
        raise ComposeError(str(error)) from None
    if problems := schema_errors(document):
        raise ComposeError("\n".join(problems))
    env_files = {
        name: _read_optional(directory / name)
        for config in document["services"].values()
        for name in process.env_file_paths(config or {})
    }
    chosen = choose_project(project, environ, document, directory)
    conversion = convert(document, chosen, env=env, env_files=env_files, strict=strict)
    conversion.warnings[:0] = [
        f"variable {name} is not set: it is the empty string" for name in sorted(unset)
    ]
    conversion.secret_files = {
        secret: str(directory / file) for secret, file in conversion.secret_files.items()
    }
    check_jobs(conversion)
    return conversion


def check_jobs(conversion: Conversion) -> None:
    """Every job against the job spec, each problem named by its service."""
    problems: list[str] = []
    by_job = {job: service for service, job in conversion.services.items()}
    for job in conversion.jobs:
        try:
            job_from_data(job)
        except SpecError as error:
            service = by_job.get(job["name"], job["name"])
            problems.extend(f"service {service}, job field {problem}" for problem in error.problems)
    if problems:
        raise ComposeError("\n".join(problems))


def _dotenv(directory: Path) -> dict[str, str]:
    text = _read_optional(directory / ".env")
    if text is None:
        return {}
    try:
        return parse_env_file(text)
    except InterpolationError as error:
        raise ComposeError(str(error)) from None


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ComposeError(f"{path}: {error.strerror}") from None
