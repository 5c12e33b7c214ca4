"""Why a detached `ozy up` failed: the last line of its log, in either log format."""

from __future__ import annotations

from pathlib import Path

import pytest

from ozymandias.local_cluster.one_node import last_line


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("starting\nno pod subnet for n1: all taken\n\n", "no pod subnet for n1: all taken"),
        (
            '{"time": "2026-12-07T14:10:00.500Z", "level": "CRITICAL", "logger": "x",'
            ' "msg": "no pod subnet for n1: all taken", "node": "n1"}\n',
            "no pod subnet for n1: all taken",
        ),
        ('["not", "a", "log", "object"]\n', '["not", "a", "log", "object"]'),
        ("", ""),
    ],
)
def test_the_reason_is_the_last_message(tmp_path: Path, written: str, reason: str) -> None:
    log = tmp_path / "up.log"
    log.write_text("an earlier run's last line\n" + written)
    assert last_line(log, len("an earlier run's last line\n")) == reason
