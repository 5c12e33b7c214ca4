"""Every `ozy ... --help`: no Python type tags, and an example for every command."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from ozymandias.cli.help_format import name_the_values
from ozymandias.cli.main import app

TYPE_TAG = re.compile(r"<(str|bool|int|float|path|int range|float range|list\[[a-z]+\])>")


def ozy() -> Any:
    command = typer.main.get_command(app)
    name_the_values(command)  # as `ozy` itself does (cli/main.py)
    return command


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", {})
    if path and (not subcommands or getattr(command, "invoke_without_command", False)):
        yield path
    for name, subcommand in subcommands.items():
        yield from commands(subcommand, (*path, name))


ALL = sorted(commands(ozy()))


def help_of(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        ozy().main(args=[*path, "--help"], prog_name="ozy")
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_every_command_is_listed() -> None:
    assert len(ALL) >= 30
    assert ("secret", "set") in ALL and ("tls", "cert", "create") in ALL and ("node", "run") in ALL


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_a_commands_help_names_values_and_shows_an_example(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    text = help_of(path, capsys)
    assert f"Usage: ozy {' '.join(path)}" in text
    assert not TYPE_TAG.search(text), TYPE_TAG.search(text)
    assert "Example: ozy " in text
