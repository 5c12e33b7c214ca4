"""`environment`, `env_file`, `command` and `entrypoint`: what the container runs with."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from ozymandias.compose.findings import ComposeError
from ozymandias.compose.interpolation import InterpolationError, parse_env_file


def environment(
    service: str,
    config: dict[str, Any],
    env: Mapping[str, str],
    env_files: Mapping[str, str | None],
) -> dict[str, str]:
    """The container's variables: its env_files in order, then `environment` over them.

    `env_files` holds each file's text by the path the compose file names
    (None: the file does not exist). A bare `NAME` takes its value from `env`,
    as compose does, and is left out if `env` lacks it.
    """
    result: dict[str, str] = {}
    for entry in _env_file_entries(config.get("env_file")):
        path, required = entry
        text = env_files.get(path)
        if text is None:
            if required:
                raise ComposeError(f"service {service}, key env_file: {path} does not exist")
            continue
        try:
            result.update(parse_env_file(text))
        except InterpolationError as error:
            raise ComposeError(f"service {service}, key env_file ({path}): {error}") from None
    given = config.get("environment", {})
    pairs = list(given.items()) if isinstance(given, dict) else [_pair(item) for item in given]
    for name, value in pairs:
        if value is None:
            if name in env:
                result[name] = env[name]
            continue
        result[name] = _text(value)
    return result


def _pair(item: Any) -> tuple[str, Any]:
    # "NAME=value", or a bare "NAME" whose value comes from the environment.
    name, separator, value = str(item).partition("=")
    return name, value if separator else None


def env_file_paths(config: dict[str, Any]) -> list[str]:
    """The paths a service's env_file names, for the loader to read."""
    return [path for path, _ in _env_file_entries(config.get("env_file"))]


def _env_file_entries(value: Any) -> list[tuple[str, bool]]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [
        (str(item["path"]), bool(item.get("required", True)))
        if isinstance(item, dict)
        else (str(item), True)
        for item in items
    ]


def _text(value: Any) -> str:
    # YAML's true/false and numbers become what compose passes: "true", "1.5".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def argv(service: str, key: str, value: Any) -> list[str] | None:
    """A command or entrypoint as a list; a string is split as a shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as error:
            raise ComposeError(f"service {service}, key {key}: {error}") from None
    return [str(part) for part in value]
