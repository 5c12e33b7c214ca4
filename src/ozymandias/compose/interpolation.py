"""Variable interpolation as the Compose Specification defines it: pure.

`$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
`${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`,
and `$$` for a literal `$`. Defaults and replacements may themselves hold
variables (`${A:-${B}}`), as in compose. Only values are interpolated, never keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A `${VAR:?message}` whose variable is missing, or a malformed `${...}`."""


def interpolate(text: str, env: Mapping[str, str], unset: set[str] | None = None) -> str:
    """`text` with its variables replaced from `env`; names used but unset go into `unset`."""
    result: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            result.append(char)
            index += 1
            continue
        following = text[index + 1 : index + 2]
        if following == "$":
            result.append("$")
            index += 2
        elif following == "{":
            end = _closing_brace(text, index + 2)
            result.append(_braced(text[index + 2 : end], env, unset))
            index = end + 1
        elif match := _NAME.match(text, index + 1):
            result.append(_lookup(match.group(), env, unset))
            index = match.end()
        else:
            result.append("$")  # a lone `$` before no name stays as it is, as in compose
            index += 1
    return "".join(result)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    index = start
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            index += 2
            continue
        if text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InterpolationError(f"'{text}': '${{' without its closing '}}'")


def _braced(body: str, env: Mapping[str, str], unset: set[str] | None) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InterpolationError(f"'${{{body}}}' is not a valid variable reference")
    name, rest = match.group(), body[match.end() :]
    if not rest:
        return _lookup(name, env, unset)
    operator = next((op for op in _OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise InterpolationError(f"'${{{body}}}' is not a valid variable reference")
    argument = rest[len(operator) :]
    value = env.get(name)
    # The colon forms treat an empty value as missing; the others only an unset one.
    missing = value is None or (operator.startswith(":") and value == "")
    if operator in (":-", "-"):
        return interpolate(argument, env, unset) if missing else str(value)
    if operator in (":?", "?"):
        if missing:
            message = interpolate(argument, env, unset) or f"{name} is required"
            raise InterpolationError(f"required variable {name} is missing a value: {message}")
        return str(value)
    return "" if missing else interpolate(argument, env, unset)


def _lookup(name: str, env: Mapping[str, str], unset: set[str] | None) -> str:
    if name in env:
        return env[name]
    if unset is not None:
        unset.add(name)
    return ""


def interpolate_tree(
    node: Any, env: Mapping[str, str], unset: set[str], path: tuple[str | int, ...] = ()
) -> Any:
    """Every string value of a parsed YAML document interpolated; errors name where."""
    if isinstance(node, str):
        try:
            return interpolate(node, env, unset)
        except InterpolationError as error:
            where = ".".join(map(str, path)) or "the document"
            raise InterpolationError(f"{where}: {error}") from None
    if isinstance(node, dict):
        return {
            key: interpolate_tree(value, env, unset, (*path, key)) for key, value in node.items()
        }
    if isinstance(node, list):
        return [interpolate_tree(item, env, unset, (*path, i)) for i, item in enumerate(node)]
    return node


def parse_env_file(text: str) -> dict[str, str]:
    """A `.env` file's variables: `KEY=VALUE` lines, `#` comments, optional `export`, and
    values in single quotes (taken literally) or double quotes (with `\\n`-style escapes)."""
    variables: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, separator, value = line.partition("=")
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise InterpolationError(f".env: '{raw}' is not a KEY=VALUE line")
        variables[name] = _env_value(value.strip()) if separator else ""
    return variables


def _env_value(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].encode().decode("unicode_escape")
    # An unquoted value ends at a ` #` comment.
    return re.split(r"\s+#", value, maxsplit=1)[0]
