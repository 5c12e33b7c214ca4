"""`ozy completion`: its scripts, the completion protocol they speak, and a real bash
completing `ozy`'s words through the script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GET_COMMANDS = {"jobs", "instances", "ingress", "nodes", "volumes", "events", "deployments"}


@pytest.fixture
def path_with_ozy(tmp_path: Path) -> str:
    """A PATH on which `ozy` is this checkout's, as the completion scripts call it by name."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ozy = bin_dir / "ozy"
    ozy.write_text(f'#!/bin/sh\nexec {sys.executable} -m ozymandias.cli.main "$@"\n')
    ozy.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def ozy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("shell", "marks"),
    [
        ("bash", ["_OZY_COMPLETE=complete_bash", "complete -o default -F _ozy_completion ozy"]),
        ("zsh", ["#compdef ozy", "_OZY_COMPLETE=complete_zsh", "compdef _ozy_completion ozy"]),
        ("fish", ["complete --command ozy", "_OZY_COMPLETE=complete_fish"]),
    ],
)
def test_completion_prints_the_shells_script(shell: str, marks: list[str]) -> None:
    script = ozy("completion", shell)
    assert script.returncode == 0, script.stderr
    for mark in marks:
        assert mark in script.stdout


def test_an_unknown_shell_is_refused() -> None:
    refused = ozy("completion", "ksh")
    assert refused.returncode == 2 and "'ksh' is not one of" in refused.stderr
    assert refused.stdout == ""


def completions(line: str, instruction: str = "bash_complete") -> list[str]:
    """What `ozy` answers bash's completion protocol for `line` (the cursor at its end)."""
    words = line.split(" ")
    answer = ozy(
        env={
            "_OZY_COMPLETE": instruction,
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.split()


@pytest.mark.parametrize("instruction", ["bash_complete", "complete_bash"])
def test_ozy_answers_the_completion_protocol(instruction: str) -> None:
    assert completions("ozy ge", instruction) == ["get"]
    assert set(completions("ozy get ", instruction)) == GET_COMMANDS
    assert set(completions("ozy get in", instruction)) == {"instances", "ingress"}
    assert set(completions("ozy delete ", instruction)) == {"job", "volume"}
    assert {"run", "cordon", "uncordon", "drain"} <= set(completions("ozy node ", instruction))
    assert "--purge-volumes" in completions("ozy delete web --", instruction)


def test_bash_completes_ozy_through_the_script(path_with_ozy: str) -> None:
    def complete(*words: str) -> list[str]:
        program = (
            "source <(ozy completion bash)\n"
            f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
            '_ozy_completion ozy; printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        bash = subprocess.run(
            ["bash", "--norc", "--noprofile", "-c", program],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": path_with_ozy},
        )  # fmt: skip
        assert bash.returncode == 0, bash.stderr
        return bash.stdout.split()

    assert complete("ozy", "ge") == ["get"]
    assert set(complete("ozy", "get", "''")) == GET_COMMANDS
