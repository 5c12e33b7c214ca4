"""The daemon's log as JSON: one object per line, for log shippers and `jq`.

Each line holds `time` (RFC3339, UTC, milliseconds), `level`, `logger` and `msg`,
then the record's own fields (what the call passed as `extra=`, e.g. `job`,
`instance`, `version`, and the daemon's `node`), and `exc` with a traceback.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# What every LogRecord carries by itself: anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None))
) | {"message", "asctime", "taskName"}


def rfc3339_utc(timestamp: float) -> str:
    """`2026-12-07T14:30:00.123Z`: UTC, to the millisecond."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call gave its record with `extra=` (and filters added)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: json escapes the newlines of a message
    or traceback, so a reader splits the stream on newlines and parses each piece."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": rfc3339_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in event_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: a field that is no JSON value (a Path, an enum) is written as its text.
        return json.dumps(line, ensure_ascii=False, default=str)
