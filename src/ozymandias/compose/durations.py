"""Compose durations (`1m30s`, `500ms`, `10us`) in seconds: pure."""

from __future__ import annotations

import re
from typing import Any

from ozymandias.compose.findings import ComposeError

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d+)?)(us|ms|s|m|h)"


def seconds(value: Any, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.fullmatch(f"(?:{_PART})+", value.strip()):
        return sum(float(n) * _UNITS[unit] for n, unit in re.findall(_PART, value.strip()))
    raise ComposeError(f"{where}: {value!r} is not a duration like 30s, 1m30s or 500ms")
