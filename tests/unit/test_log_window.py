"""`--since` of `ozy logs`: durations back from now, RFC3339 times, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ozymandias.log_window import parse_since

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", NOW - timedelta(seconds=10)),
        ("5m", NOW - timedelta(minutes=5)),
        ("1h", NOW - timedelta(hours=1)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("500ms", NOW - timedelta(milliseconds=500)),
        (" 2m ", NOW - timedelta(minutes=2)),
        ("2026-12-07T10:00:00Z", datetime(2026, 12, 7, 10, tzinfo=UTC)),
        ("2026-12-07t10:00:00z", datetime(2026, 12, 7, 10, tzinfo=UTC)),
        ("2026-12-07T10:00:00.25Z", datetime(2026, 12, 7, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-12-07T10:00:00.123456789Z", datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC)),
        (
            "2026-12-07T11:00:00+01:00",
            datetime(2026, 12, 7, 11, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_since_is_a_duration_back_or_an_rfc3339_time(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("10", "has no unit"),
        ("yesterday", "is not a duration like 10s, 5m or 1h30m"),
        ("-5m", "is not a duration"),
        ("5 minutes", "is not a duration"),
        ("", "is not a duration"),
        ("2026-12-07T10:00:00", "is not an RFC3339 time with its zone"),
        ("2026-12-07", "is not an RFC3339 time with its zone"),
        ("2026-12-07 10:00:00Z", "is not an RFC3339 time with its zone"),
        ("2026-02-30T10:00:00Z", "day is out of range"),
        ("87600h1s", "more than 3650 days back"),
        ("1" * 65 + "s", "is 66 characters long"),
    ],
)
def test_since_that_is_neither_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_since(text, NOW)
