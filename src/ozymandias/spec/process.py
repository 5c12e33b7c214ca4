"""What a container's process is started with: its command and its environment.

Both are accepted in compose's forms (a command as one string, environment
as a mapping or "K=V" strings) and both are bounded: the command here, the
environment by the node's `SpecLimits`, checked in `ContainerSpec`.
"""

import re
import shlex
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter

from ozymandias.spec.base import Problem, SpecModel, problems_error, shown

# Arguments of a command, and their bytes together: ample for any real
# command, and, like the kernel's 128K for one argument, well under what
# exec accepts for arguments and environment together.
MAX_COMMAND_ARGS = 1_000
MAX_COMMAND_BYTES = 128 * 1024
MAX_ENV_NAME_LENGTH = 255


def _check_env_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise ValueError(
            f"'{shown(text)}' is not an environment variable name:"
            " use letters, digits and '_', not starting with a digit"
        )
    return text


def _scalar_as_string(value: Any) -> Any:
    # YAML reads `PORT: 3000` and `DEBUG: true` as numbers and booleans, but
    # the environment only holds strings; booleans are spelled the YAML way.
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


def _command_bytes_error(size: int) -> ValueError:
    return ValueError(f"a command is at most {MAX_COMMAND_BYTES} bytes, got {size}")


def _split_command(value: Any) -> Any:
    # A single string is split like a shell would, as compose does; its
    # size is checked first, as splitting a huge one is slow.
    if not isinstance(value, str):
        return value
    if (size := len(value.encode())) > MAX_COMMAND_BYTES:
        raise _command_bytes_error(size)
    try:
        return shlex.split(value)
    except ValueError as error:
        raise ValueError(f"{shown(value)!r} is not a valid command: {error}") from None


def _check_command_bytes(args: list[str]) -> list[str]:
    if (size := sum(len(arg.encode()) for arg in args)) > MAX_COMMAND_BYTES:
        raise _command_bytes_error(size)
    return args


EnvName = Annotated[str, Field(max_length=MAX_ENV_NAME_LENGTH), AfterValidator(_check_env_name)]
EnvValue = Annotated[str, BeforeValidator(_scalar_as_string)]
Command = Annotated[
    Annotated[list[str], Field(max_length=MAX_COMMAND_ARGS), AfterValidator(_check_command_bytes)]
    | None,
    BeforeValidator(_split_command),
]


class EnvVar(SpecModel):
    """One `{name, value}` entry of the design post's environment list."""

    name: EnvName
    value: EnvValue


_ENV_LIST = TypeAdapter(list[EnvVar])


def _environment_as_mapping(value: Any) -> Any:
    """Turn the list forms of `environment` into a mapping; a mapping passes through."""
    if not isinstance(value, list):
        return value
    malformed = [
        ((index,), f"{shown(item)!r} is not NAME=value")
        for index, item in enumerate(value)
        if isinstance(item, str) and "=" not in item
    ]
    if malformed:
        raise problems_error("environment", malformed)
    entries = [
        dict(zip(("name", "value"), item.split("=", 1), strict=True))
        if isinstance(item, str)
        else item
        for item in value
    ]
    environment: dict[str, str] = {}
    duplicates: list[Problem] = []
    for index, var in enumerate(_ENV_LIST.validate_python(entries)):
        if var.name in environment:
            duplicates.append(((index, "name"), f"'{var.name}' is set more than once"))
        environment[var.name] = var.value
    if duplicates:
        raise problems_error("environment", duplicates)
    return environment


Environment = Annotated[dict[EnvName, EnvValue], BeforeValidator(_environment_as_mapping)]
