"""A command that runs on (a watch, a follow: `ozy`'s, kubectl's), read line by line while it
runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable


class RunningCommand:
    """`command`, its stdout and stderr collected as lines on threads."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            threading.Thread(target=_collect, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=_collect, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def wait_for(
        self, condition: Callable[[list[str]], bool], what: str, timeout: float = 60
    ) -> list[str]:
        """Wait until `condition` holds for stdout's lines so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = list(self.stdout)
            if condition(lines):
                return lines
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"no {what} from {self.process.args!r} (exit {self.process.poll()}): "
            f"{self.stdout[-10:]} {self.stderr}"
        )

    def interrupt(self, timeout: float = 10) -> int:
        """Ctrl-C; its exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class RunningOzy(RunningCommand):
    """`ozy ARGUMENTS` against `api`."""

    def __init__(self, api: str, *arguments: str) -> None:
        super().__init__(
            [sys.executable, "-m", "ozymandias.cli.main", *arguments],
            {**os.environ, "OZY_API": api, "COLUMNS": "200"},
        )


def _collect(stream: object, lines: list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.append(line.rstrip("\n"))
