"""The check of a compose document against the vendored Compose Specification schema.

jsonschema_rs (already a dependency of the API fuzzing tools) does the validation;
this module turns its errors into lines that name the service and the key.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema_rs

# A document this wrong is a different kind of file; more lines would only bury the first.
MAX_SCHEMA_ERRORS = 20


@cache
def _validator() -> Any:
    text = files("ozymandias.compose").joinpath("compose-spec.json").read_text()
    return jsonschema_rs.validator_for(json.loads(text))


def schema_errors(document: Any) -> list[str]:
    """One line per schema violation, e.g. `service web, key ports[0]: ...`; none if valid."""
    lines: list[str] = []
    for error in _validator().iter_errors(document):
        lines.append(f"{_where(list(error.instance_path))}: {error.message}")
        if len(lines) == MAX_SCHEMA_ERRORS:
            lines.append("(and possibly more)")
            break
    return lines


def _where(path: list[str | int]) -> str:
    if len(path) >= 2 and path[0] == "services":
        key = _key_text(path[2:])
        return f"service {path[1]}" + (f", key {key}" if key else "")
    return f"key {_key_text(path)}" if path else "the document"


def _key_text(path: list[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
