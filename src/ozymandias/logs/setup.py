"""How a daemon (`ozy node run`, `ozy up`) logs: level, format, and which lines are news.

One handler on the root logger, writing to stderr, as text or JSON
(`--log-format`). The level comes from `OZY_LOG_LEVEL` (default INFO). At INFO
a node writes what an operator reads: placements, pod starts and stops, health
changes, deployments, fencing and errors. Libraries that write a line per HTTP
request at INFO (the podman client's httpx, uvicorn's access log) are moved to
DEBUG, where `OZY_LOG_LEVEL=DEBUG` still shows them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Final

from ozymandias.logs.json_format import JsonFormatter

LOG_FORMATS: Final = ("text", "json")
LEVEL_ENV: Final = "OZY_LOG_LEVEL"
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Loggers whose INFO lines are per-request chatter: shown as DEBUG.
REQUEST_LOGGERS: Final = ("httpx", "httpcore", "uvicorn.access", "uvicorn.error")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DAEMON_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(node)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


def parse_level(text: str) -> int:
    """`OZY_LOG_LEVEL`'s value as a logging level; ValueError names the accepted ones."""
    name = text.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"{text!r} is not a log level: use one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def parse_format(text: str) -> str:
    name = text.strip().lower()
    if name not in LOG_FORMATS:
        raise ValueError(f"{text!r} is not a log format: use text or json")
    return name


class RequestLinesToDebug(logging.Filter):
    """Demotes the INFO lines of `REQUEST_LOGGERS` to DEBUG, and drops every record
    below `level` (the loggers' own levels stay as libraries set them, so the check
    is made here, after the demotion)."""

    def __init__(self, level: int, loggers: tuple[str, ...] = REQUEST_LOGGERS) -> None:
        super().__init__()
        self.level = level
        self.loggers = loggers

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and _under(record.name, self.loggers):
            record.levelno = logging.DEBUG
            record.levelname = logging.getLevelName(logging.DEBUG)
        return record.levelno >= self.level


class NodeName(logging.Filter):
    """Puts the daemon's node name on every record, as `node`: a line about another node
    names it under a key of its own (`lost_node`, `nodes`)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node
        return True


def log_handler(level: int, log_format: str, node: str | None) -> logging.Handler:
    """The daemon's one handler, on stderr (unit-tested on a stream of its own)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(DAEMON_TEXT_FORMAT if node else TEXT_FORMAT))
    handler.addFilter(RequestLinesToDebug(level))
    if node:
        handler.addFilter(NodeName(node))
    return handler


def configure_logging(level: int, log_format: str = "text", node: str | None = None) -> None:
    """Route every logger to one handler on stderr, replacing any handler set before."""
    logging.basicConfig(level=level, handlers=[log_handler(level, log_format, node)], force=True)
    # Python's warnings too, else they reach stderr unformatted (a non-JSON line).
    logging.captureWarnings(True)
    # Above DEBUG their request lines are dropped anyway: not even made.
    quiet = logging.NOTSET if level <= logging.DEBUG else logging.WARNING
    for name in REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


@contextlib.contextmanager
def last_words_logged(log_format: str) -> Iterator[None]:
    """Around a daemon's run: with JSON, why it stops is a JSON line too.

    A SystemExit's message and an uncaught traceback would reach stderr as plain
    text. In text they stay so: `ozy up` shows the last line of a failed start.
    """
    if log_format != "json":
        yield
        return
    try:
        yield
    except SystemExit as stop:
        if not isinstance(stop.code, str):
            raise
        log.critical("%s", stop.code)
        raise SystemExit(1) from None
    except Exception:
        log.critical("the daemon failed", exc_info=True)
        raise SystemExit(1) from None


def _under(name: str, loggers: tuple[str, ...]) -> bool:
    return any(name == logger or name.startswith(f"{logger}.") for logger in loggers)
