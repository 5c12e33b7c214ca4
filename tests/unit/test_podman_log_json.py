"""Podman's timestamped log frames and its start and died events, read into models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ozymandias.runtime.models import ContainerRun, LogEntry
from ozymandias.runtime.podman_json import container_runs, log_entry

EARLIER = datetime(2026, 12, 7, 11, 0, 0, tzinfo=UTC)
STAMP = datetime(2026, 12, 7, 11, 29, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"2026-12-07T11:29:23Z run1\n", LogEntry(STAMP, b"run1\n")),
        (b"2026-12-07T11:29:23Z  indented", LogEntry(STAMP, b" indented")),
        (b"2026-12-07T11:29:23Z \n", LogEntry(STAMP, b"\n")),
        # Without a readable time it keeps the frame whole, with the previous frame's time.
        (b"no time here\n", LogEntry(EARLIER, b"no time here\n")),
        (b"\xff\xfe x\n", LogEntry(EARLIER, b"\xff\xfe x\n")),
    ],
)
def test_a_log_frame_is_its_time_and_its_output(payload: bytes, expected: LogEntry) -> None:
    assert log_entry(payload, EARLIER) == expected


BASE = 1_796_642_950


def start(seconds: float) -> str:
    return json.dumps({"status": "start", "timeNano": int((BASE + seconds) * 10**9)})


def died(seconds: float) -> str:
    return json.dumps({"status": "died", "timeNano": int((BASE + seconds) * 10**9)})


def at(seconds: int, microseconds: int = 0) -> datetime:
    return datetime.fromtimestamp(BASE + seconds, UTC).replace(microsecond=microseconds)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], []),
        ([start(0)], [ContainerRun(at(0), None)]),
        (
            [start(0), died(2.5), start(4), ""],
            [ContainerRun(at(0), at(2, 500_000)), ContainerRun(at(4), None)],
        ),
        # Out of order as read, and a died event without a start (the log began later).
        (
            [start(4), died(-1), died(3), start(0)],
            [ContainerRun(at(0), at(3)), ContainerRun(at(4), None)],
        ),
    ],
)
def test_a_containers_runs_pair_its_starts_with_its_deaths(
    lines: list[str], expected: list[ContainerRun]
) -> None:
    assert container_runs(lines) == expected
