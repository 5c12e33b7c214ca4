"""The daemon's log: the JSON formatter line by line, and which records the handler lets through."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest

from ozymandias.ingress.haproxy_stderr import stderr_level
from ozymandias.logs.json_format import JsonFormatter, rfc3339_utc
from ozymandias.logs.setup import (
    RequestLinesToDebug,
    last_words_logged,
    log_handler,
    parse_format,
    parse_level,
)


def record(
    msg: str,
    *args: object,
    level: int = logging.INFO,
    name: str = "ozymandias.agent.node_agent",
    extra: dict[str, Any] | None = None,
    exc: bool = False,
) -> logging.LogRecord:
    exc_info = sys.exc_info() if exc else None
    made = logging.getLogger(name).makeRecord(
        name, level, "node_agent.py", 42, msg, args, exc_info, extra=extra
    )
    made.created = 1_796_652_600.5  # 2026-12-07T14:10:00.500Z
    return made


def formatted(item: logging.LogRecord) -> dict[str, Any]:
    line = JsonFormatter().format(item)
    assert "\n" not in line
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def test_the_four_keys_then_the_event_fields() -> None:
    line = formatted(
        record(
            "started %s",
            "web-0",
            extra={"job": "web", "instance": "web-0", "version": 3, "nodes": ["n1", "n2"]},
        )
    )
    assert line == {
        "time": "2026-12-07T14:10:00.500Z",
        "level": "INFO",
        "logger": "ozymandias.agent.node_agent",
        "msg": "started web-0",
        "job": "web",
        "instance": "web-0",
        "version": 3,
        "nodes": ["n1", "n2"],
    }


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_796_652_600.5, "2026-12-07T14:10:00.500Z"),
        (1_796_652_600.0999, "2026-12-07T14:10:00.099Z"),
    ],
)
def test_time_is_rfc3339_utc_to_the_millisecond(timestamp: float, text: str) -> None:
    assert rfc3339_utc(timestamp) == text


def test_a_traceback_goes_in_exc_and_the_line_stays_one_line() -> None:
    try:
        raise RuntimeError("podman went away\nfor good")
    except RuntimeError:
        line = formatted(record("change to %s failed", "web-0", level=logging.ERROR, exc=True))
    assert line["level"] == "ERROR"
    assert line["msg"] == "change to web-0 failed"
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert line["exc"].endswith("RuntimeError: podman went away\nfor good")


def test_newlines_in_a_message_stay_inside_one_line() -> None:
    line = formatted(record("haproxy said:\n%s\r\nend", "[ALERT] bad\tconfig"))
    assert line["msg"] == "haproxy said:\n[ALERT] bad\tconfig\r\nend"


def test_non_ascii_is_kept_as_written() -> None:
    text = JsonFormatter().format(record("tâche %s démarrée", "données-日本-0"))
    assert "tâche données-日本-0 démarrée" in text
    assert json.loads(text)["msg"] == "tâche données-日本-0 démarrée"


def test_a_field_that_is_no_json_value_is_written_as_text() -> None:
    class Version:
        def __str__(self) -> str:
            return "v7"

    assert formatted(record("deployed", extra={"version": Version()}))["version"] == "v7"


def test_a_field_never_replaces_the_four_keys() -> None:
    # `msg` and friends are LogRecord attributes, so logging refuses them in `extra`;
    # a filter can still set `level` or `time` on a record.
    item = record("placed web")
    item.level = "loud"
    item.time = "yesterday"
    line = formatted(item)
    assert (line["level"], line["time"]) == ("INFO", "2026-12-07T14:10:00.500Z")


def handled(handler: logging.Handler, item: logging.LogRecord) -> str:
    stream = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    if handler.filter(item):
        handler.emit(item)
    return stream.getvalue()


@pytest.mark.parametrize(
    ("name", "level", "shown_at_info", "shown_at_debug"),
    [
        ("httpx", logging.INFO, False, True),
        ("httpcore.connection", logging.DEBUG, False, True),
        ("uvicorn.access", logging.INFO, False, True),
        ("uvicorn.error", logging.INFO, False, True),
        ("uvicorn.error", logging.WARNING, True, True),
        ("httpx", logging.ERROR, True, True),
        ("httpxtra", logging.INFO, True, True),
        ("ozymandias.agent.node_agent", logging.INFO, True, True),
        ("ozymandias.health.monitor", logging.DEBUG, False, True),
    ],
)
def test_request_lines_go_to_debug(
    name: str, level: int, shown_at_info: bool, shown_at_debug: bool
) -> None:
    for threshold, shown in ((logging.INFO, shown_at_info), (logging.DEBUG, shown_at_debug)):
        item = record("GET http://podman/v5/pods/json", level=level, name=name)
        assert RequestLinesToDebug(threshold).filter(item) is shown
    demoted = record("GET /v1/jobs 200", name="uvicorn.access")
    RequestLinesToDebug(logging.DEBUG).filter(demoted)
    assert (demoted.levelno, demoted.levelname) == (logging.DEBUG, "DEBUG")


def test_the_node_name_is_on_every_line_in_both_formats() -> None:
    json_line = handled(log_handler(logging.INFO, "json", "n1"), record("placed web"))
    assert json.loads(json_line)["node"] == "n1"
    text_line = handled(log_handler(logging.INFO, "text", "n1"), record("placed web"))
    assert text_line.endswith(" INFO n1 ozymandias.agent.node_agent: placed web\n")


def test_the_handler_drops_a_request_line_at_info() -> None:
    handler = log_handler(logging.INFO, "json", "n1")
    assert handled(handler, record("HTTP Request: GET http://podman/", name="httpx")) == ""


@pytest.mark.parametrize(("text", "level"), [("debug", logging.DEBUG), (" INFO ", logging.INFO)])
def test_levels(text: str, level: int) -> None:
    assert parse_level(text) == level


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_level, "chatty", "'chatty' is not a log level: use one of DEBUG, INFO"),
        (parse_format, "xml", "'xml' is not a log format: use text or json"),
    ],
)
def test_bad_settings_say_what_is_accepted(parse: Any, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_formats() -> None:
    assert [parse_format(text) for text in ("text", "JSON")] == ["text", "json"]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("[NOTICE]   (14988) : New worker (14990) forked", logging.DEBUG),
        ("[NOTICE]   (14988) : Loading success.", logging.DEBUG),
        ("[WARNING]  (14988) : Exiting Master process...", logging.WARNING),
        (
            "[WARNING]  (1799) : Server http-web/s6 is UP/READY (leaving forced maintenance).",
            logging.DEBUG,
        ),
        (
            "[WARNING]  (1799) : Server http-web/s1 is going DOWN for maintenance. 6 active and"
            " 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
            logging.DEBUG,
        ),
        ("[WARNING]  (1799) : Server http-web/s1 is DOWN, reason: Layer4 timeout", logging.WARNING),
        ("[ALERT]    (14988) : config : parsing [x.cfg:3] : unknown keyword", logging.WARNING),
        ("something HAProxy never says", logging.WARNING),
    ],
)
def test_haproxy_notices_are_debug(line: str, level: int) -> None:
    assert stderr_level(line) == level


@pytest.mark.parametrize(
    "line",
    [
        "[WARNING]  (4985) : Exiting Master process...",
        "[ALERT]    (4985) : Current worker (4987) exited with code 143 (Terminated)",
        "[WARNING]  (4985) : All workers exited. Exiting... (0)",
    ],
)
def test_what_a_generation_told_to_stop_says_is_debug(line: str) -> None:
    # `ozy up` stopped by Ctrl-C printed these three at WARNING on every stop.
    assert stderr_level(line, stopping=True) == logging.DEBUG
    assert stderr_level(line) == logging.WARNING


def test_with_json_a_daemon_says_why_it_stops_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(SystemExit) as stop, last_words_logged("json"):
        raise SystemExit("etcd at http://10.0.0.1:2379 did not answer")
    assert stop.value.code == 1
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("CRITICAL", "etcd at http://10.0.0.1:2379 did not answer")
    ]
    caplog.clear()
    with pytest.raises(SystemExit) as stop, last_words_logged("json"):
        raise RuntimeError("boom")
    assert stop.value.code == 1
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize(("log_format", "code"), [("text", "a reason"), ("json", 0)])
def test_other_exits_pass_unchanged(log_format: str, code: str | int) -> None:
    with pytest.raises(SystemExit) as stop, last_words_logged(log_format):
        raise SystemExit(code)
    assert stop.value.code == code
