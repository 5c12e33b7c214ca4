"""Suite-wide hooks: a run that finished must also exit."""

from __future__ import annotations

import os
import sys
import threading

import pytest


def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit even when a test left a non-daemon thread running.

    Once such a thread (a client loop whose block failed) kept the interpreter
    waiting after the summary until CI's deadline killed the run. Name the
    threads, so the leak gets fixed, and exit with pytest's own status.
    """
    stray = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    if not stray:
        return
    names = ", ".join(thread.name for thread in stray)
    print(f"\nleft running by the tests, not waited for: {names}", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(int(getattr(config, "_ozy_exitstatus", 1)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._ozy_exitstatus = exitstatus  # type: ignore[attr-defined]
