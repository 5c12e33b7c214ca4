"""Resuming a followed log without repeats, and the `--timestamps` prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ozymandias.agent.log_cursor import LogCursor, TimestampPrefix


def at(second: int) -> datetime:
    return datetime(2026, 12, 7, 12, 0, second, tzinfo=UTC)


def shown(cursor: LogCursor, times: list[datetime]) -> list[int]:
    """The positions of the entries the cursor lets through."""
    return [i for i, time in enumerate(times) if cursor.admit(time)]


def test_a_fresh_cursor_shows_everything_and_resumes_from_the_start() -> None:
    cursor = LogCursor()
    assert cursor.resume_since() is None
    assert shown(cursor, [at(1), at(1), at(2)]) == [0, 1, 2]


@pytest.mark.parametrize(
    ("first_read", "second_read", "shown_again"),
    [
        # Read again from the last second: its two entries shown are skipped, the new shown.
        ([at(1), at(2), at(2)], [at(2), at(2), at(2), at(3)], [2, 3]),
        # Nothing new in the last second: only later entries.
        ([at(1), at(2)], [at(2), at(5)], [1]),
        # Nothing new at all (the container exited; podman ends the follow at once).
        ([at(1), at(2)], [at(2)], []),
        # Entries before the second asked for are never shown again.
        ([at(3)], [at(1), at(3), at(4)], [2]),
    ],
)
def test_a_resumed_read_shows_only_what_was_not_shown(
    first_read: list[datetime], second_read: list[datetime], shown_again: list[int]
) -> None:
    cursor = LogCursor()
    shown(cursor, first_read)
    since = cursor.resume_since()
    # Podman leaves out an entry timed exactly at `since`: it asks from just before.
    assert since == first_read[-1] - timedelta(microseconds=1)
    assert shown(cursor, second_read) == shown_again


def test_two_resumes_in_a_row_skip_the_same_entries_each_time() -> None:
    cursor = LogCursor()
    shown(cursor, [at(1), at(1)])
    cursor.resume_since()
    assert shown(cursor, [at(1), at(1)]) == []
    cursor.resume_since()
    assert shown(cursor, [at(1), at(1), at(1)]) == [2]


def test_after_a_read_cut_by_tail_inside_a_second_it_resumes_from_the_next_second() -> None:
    cursor = LogCursor()
    cursor.cut_by_tail()
    assert shown(cursor, [at(1), at(1)]) == [0, 1]  # of at(1)'s three entries, say
    assert cursor.resume_since() == at(2) - timedelta(microseconds=1)
    assert shown(cursor, [at(2), at(3)]) == [0, 1]
    cursor.resume_since()  # at(3) was read whole: counted again
    assert shown(cursor, [at(3), at(3)]) == [1]


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        ([b"one\n", b"two\n"], b"2026-12-07T12:00:01Z one\n2026-12-07T12:00:01Z two\n"),
        # A long line comes in parts: one prefix for the whole line.
        ([b"a long ", b"line\n", b"next\n"], b"2026-12-07T12:00:01Z a long line\n"
         b"2026-12-07T12:00:01Z next\n"),
        ([b"no newline at the end"], b"2026-12-07T12:00:01Z no newline at the end"),
    ],
)  # fmt: skip
def test_the_timestamp_prefix_starts_each_line_once(frames: list[bytes], expected: bytes) -> None:
    prefix = TimestampPrefix()
    assert b"".join(prefix(at(1), frame) for frame in frames) == expected


def test_the_timestamp_prefix_is_in_utc() -> None:
    one_hour_east = datetime(2026, 12, 7, 13, 0, 1, tzinfo=timezone(timedelta(hours=1)))
    assert TimestampPrefix()(one_hour_east, b"x\n") == b"2026-12-07T12:00:01Z x\n"
