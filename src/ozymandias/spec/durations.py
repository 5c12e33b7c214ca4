"""Durations as compose writes them ("30s", "1m30s", "500ms"), for specs and CLI flags alike."""

from __future__ import annotations

import re
from typing import Any

from ozymandias.spec.base import shown

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h)"


def parse_duration(value: Any) -> float:
    """Seconds from a number or a compose-style duration; ValueError says what is wrong."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if re.fullmatch(f"(?:{_PART})+", text):
            return sum(float(number) * _UNITS[unit] for number, unit in re.findall(_PART, text))
    raise ValueError(f"{shown(repr(value))} is not a duration like 30s, 1m or 500ms")


def format_duration(seconds: float) -> str:
    """Seconds as a compose-style duration that parses back: "10s", "1m30s", "500ms", "1h"."""
    if seconds < 1:
        return f"{round(seconds * 1000, 3):g}ms" if seconds else "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    parts = [f"{int(hours)}h" if hours else "", f"{int(minutes)}m" if minutes else ""]
    parts.append(f"{round(rest, 3):g}s" if rest else "")
    return "".join(parts)
