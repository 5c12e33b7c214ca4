"""Reading a job spec from YAML, with errors that point at the offending field."""

import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ozymandias.spec.models import JobSpec


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a spec: where (dotted, like "containers.app.memory") and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(Exception):
    """A job spec that cannot be accepted, with every problem found in it."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class _SpecYamlLoader(yaml.SafeLoader):
    """SafeLoader that reads only plain decimal integers as numbers.

    YAML 1.1 reads `- 22:22` as the base-60 number 1342 and `0755` as octal,
    the classic docker-compose port trap; here both stay strings, so the port
    mapping "22:22" means what it says.
    """


_INT_TAG = "tag:yaml.org,2002:int"
_SpecYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _INT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecYamlLoader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789")
)


def load_job(text: str | bytes) -> JobSpec:
    """Parse and validate a job spec written in YAML."""
    try:
        data = yaml.load(text, Loader=_SpecYamlLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError([FieldProblem("", f"invalid YAML{where}: {error.problem}")]) from None
    except yaml.YAMLError as error:
        raise SpecError([FieldProblem("", f"invalid YAML: {error}")]) from None
    return job_from_data(data)


def job_from_data(data: object) -> JobSpec:
    """Validate an already-parsed job spec (e.g. a JSON request body)."""
    if data is None:
        raise SpecError([FieldProblem("", "the job spec is empty")])
    if not isinstance(data, dict):
        raise SpecError(
            [FieldProblem("", f"the job spec must be a mapping of fields, not {_kind(data)}")]
        )
    try:
        return JobSpec.model_validate(data)
    except ValidationError as error:
        problems = [
            _field_problem(detail)
            for detail in error.errors()
            # Reported when a volume's name can't be derived from an invalid
            # path, which has its own error already.
            if detail["type"] != "default_factory_not_called"
        ]
        raise SpecError(problems) from None


def dump_job(spec: JobSpec) -> dict[str, Any]:
    """The spec as JSON-ready data, spelled as users write it (numInstances, ...)."""
    return spec.model_dump(mode="json", by_alias=True)


# Location parts pydantic adds that are not fields: "[key]" for a bad mapping
# key, and union branch names like "list[str]" or "function-after[f(), str]".
_NOT_A_FIELD = re.compile(r"\[key\]|[\w-]+\[.*\]")

_TYPE_MESSAGES = {
    "missing": "field required",
    "model_type": "must be a mapping of fields",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
}


def _field_problem(detail: ErrorDetails) -> FieldProblem:
    path = ".".join(str(part) for part in detail["loc"] if not _NOT_A_FIELD.fullmatch(str(part)))
    if detail["type"] == "value_error":
        # Our own validators' messages, without pydantic's "Value error, ".
        return FieldProblem(path, str(detail.get("ctx", {}).get("error", detail["msg"])))
    message = _TYPE_MESSAGES.get(detail["type"]) or re.sub(r"^\w+ should ", "must ", detail["msg"])
    value = detail["input"]
    # Showing a wrong scalar helps spot YAML surprises like `on` read as true.
    if isinstance(value, str | int | float | bool):
        message += f", got {value!r}"
    return FieldProblem(path, message)


def _kind(data: object) -> str:
    return "a list" if isinstance(data, list) else f"{type(data).__name__} {data!r}"
