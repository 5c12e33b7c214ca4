"""Which part of a container's output `ozy logs` asks for: `--since`, and the bounds of the
logs endpoint's parameters. Pure: the CLI checks a flag with it before asking, the API
checks the query with it again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ozymandias.spec.base import shown
from ozymandias.spec.durations import parse_duration

MAX_TAIL = 1_000_000
"""More lines than the 10 MiB a container's log keeps (see README, "Logs")."""
MAX_SINCE_LENGTH = 64
MAX_SINCE_AGE = timedelta(days=3650)
"""Farther back than any log is kept; it keeps `now - since` within datetime's range."""

_EXAMPLES = "a duration like 10s, 5m or 1h30m, or an RFC3339 time like 2026-12-07T10:00:00Z"


def parse_since(text: str, now: datetime) -> datetime:
    """The time `--since` names, as an aware datetime; ValueError says what is wrong.

    A duration counts back from `now`; a time must say its zone ("Z" or "+01:00"), as
    RFC3339 does, so that it means the same on every node.
    """
    value = text.strip()
    if len(value) > MAX_SINCE_LENGTH:
        raise ValueError(f"--since is {len(value)} characters long; give {_EXAMPLES}")
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        raise ValueError(f"--since {shown(value)} has no unit; give {_EXAMPLES}")
    if re.match(r"\d{4}-", value):  # a date: no duration starts so
        return _rfc3339(value)
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f"--since {shown(repr(value))} is not {_EXAMPLES}") from None
    if seconds > MAX_SINCE_AGE.total_seconds():
        raise ValueError(f"--since {shown(value)} is more than {MAX_SINCE_AGE.days} days back")
    return now - timedelta(seconds=seconds)


def _rfc3339(value: str) -> datetime:
    # fromisoformat takes more than RFC3339 ("2026-12-07T10", no zone); the pattern does not.
    pattern = r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)"
    if not re.fullmatch(pattern, value):
        raise ValueError(
            f"--since {shown(repr(value))} is not an RFC3339 time with its zone, "
            "like 2026-12-07T10:00:00Z or 2026-12-07T11:00:00+01:00"
        )
    try:
        return datetime.fromisoformat(value.upper())  # e.g. Feb 30th passes the pattern
    except ValueError as error:
        raise ValueError(f"--since {shown(repr(value))}: {error}") from None
