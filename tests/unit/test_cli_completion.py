"""`_OZY_COMPLETE`'s value: typer's spelling, and click's for bash."""

from __future__ import annotations

import pytest

from ozymandias.cli.completion_command import typer_instruction


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("complete_bash", "complete_bash"),
        ("bash_complete", "complete_bash"),
        ("bash_source", "source_bash"),
        ("source_bash", "source_bash"),
        ("complete_zsh", "complete_zsh"),
        ("zsh_complete", "zsh_complete"),  # click's zsh protocol is not typer's: left to fail
        ("bash_other", "bash_other"),
        ("nonsense", "nonsense"),
    ],
)
def test_click_spelling_of_bash_instructions_is_read_as_typers(given: str, read: str) -> None:
    assert typer_instruction(given) == read
