"""Where a followed log stands, so that reading it again shows no line twice; and the
`--timestamps` prefix. Pure: fed the runtime's log entries, table-tested.

A container restarted by its policy is the same container, and its log holds every
run (podman's k8s-file log is appended to). Podman times entries to the second only,
so resuming "after the last entry shown" means: from the start of that second,
skipping as many entries of that second as were shown already (the log's order is
stable), unless `tail` hid some of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Podman leaves out an entry timed exactly at `since`: start just before the second.
_JUST_BEFORE = timedelta(microseconds=1)


class LogCursor:
    """The last second shown and how many of its entries, for resuming without repeats."""

    def __init__(self) -> None:
        self._second: datetime | None = None
        self._shown_in_second = 0
        self._to_skip = 0
        self._cut_ahead = False
        self._second_cut = False

    def cut_by_tail(self) -> None:
        """The next read is cut by `tail`: its first second may have entries not shown."""
        self._cut_ahead = True

    def resume_since(self) -> datetime | None:
        """Where the next read starts (None: from the start); its first entries of the
        last second shown are then skipped by `admit`."""
        if self._second is None:
            return None
        if self._second_cut:
            # How many of its entries came before those shown is unknown: go on from the
            # next second. A read ends when the container stops, having read the log to
            # its end, so a restarted run's output, a second or more later, is all there.
            self._to_skip = 0
            return self._second + timedelta(seconds=1) - _JUST_BEFORE
        self._to_skip = self._shown_in_second
        return self._second - _JUST_BEFORE

    def admit(self, time: datetime) -> bool:
        """Whether to show an entry of this time (False for one shown before)."""
        if self._second is not None and time < self._second:
            return False
        if time == self._second:
            if self._to_skip:
                self._to_skip -= 1
                return False
            self._shown_in_second += 1
            return True
        self._second, self._shown_in_second, self._to_skip = time, 1, 0
        self._second_cut, self._cut_ahead = self._cut_ahead, False
        return True


class TimestampPrefix:
    """Puts each line's RFC3339 time in front of it; a line that comes in several
    entries (podman splits long ones) gets it once."""

    def __init__(self) -> None:
        self._at_line_start = True

    def __call__(self, time: datetime, data: bytes) -> bytes:
        stamp = f"{time.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} "
        prefix = stamp.encode() if self._at_line_start else b""
        self._at_line_start = data.endswith(b"\n")
        return prefix + data
