"""Every `ozy ... --help`: no Python type tags, arguments and ranges as kubectl writes them,
and an example for every command."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from ozymandias.cli.commands import app
from ozymandias.cli.help_format import name_the_values

TYPE_TAG = re.compile(r"<(str|bool|int|float|path|int range|float range|list\[[a-z]+\])>")
# typer's `{JOB}` for a required argument, and its `[x>=1]`, `[1<=x<=100]` for a range.
BRACED_ARGUMENT = re.compile(r"\{[A-Za-z_/.]+\}")
RANGE_TAG = re.compile(r"\bx\s*[<>]=|<=\s*x\b")


def ozy() -> Any:
    command = typer.main.get_command(app)
    name_the_values(command)  # as `ozy` itself does (cli/commands.py)
    return command


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", {})
    if path and (not subcommands or getattr(command, "invoke_without_command", False)):
        yield path
    for name, subcommand in subcommands.items():
        yield from commands(subcommand, (*path, name))


def groups(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    subcommands = getattr(command, "commands", {})
    if subcommands:
        yield path
    for name, subcommand in subcommands.items():
        yield from groups(subcommand, (*path, name))


ALL = sorted(commands(ozy()))
GROUPS = sorted(groups(ozy()))


def command_at(path: tuple[str, ...]) -> Any:
    command = ozy()
    for name in path:
        command = command.commands[name]
    return command


def help_of(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        ozy().main(args=[*path, "--help"], prog_name="ozy")
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_every_command_is_listed() -> None:
    assert len(ALL) >= 30
    assert ("secret", "set") in ALL and ("tls", "cert", "create") in ALL
    assert ("node", "run") in ALL and ("node",) not in ALL
    assert ("delete", "job") in ALL and ("delete", "volume") in ALL and ("completion",) in ALL
    assert {(), ("delete",), ("node",), ("get",)} <= set(GROUPS)


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_a_commands_help_names_values_and_shows_an_example(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    text = help_of(path, capsys)
    assert f"Usage: ozy {' '.join(path)}" in text
    assert not TYPE_TAG.search(text), TYPE_TAG.search(text)
    assert not BRACED_ARGUMENT.search(text), BRACED_ARGUMENT.search(text)
    assert not RANGE_TAG.search(text), RANGE_TAG.search(text)
    assert "Example: ozy " in text


@pytest.mark.parametrize("path", GROUPS, ids=lambda path: " ".join(path) or "ozy")
def test_a_groups_help_has_no_tags(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    text = help_of(path, capsys)
    assert not TYPE_TAG.search(text), TYPE_TAG.search(text)
    assert not BRACED_ARGUMENT.search(text), BRACED_ARGUMENT.search(text)
    assert not RANGE_TAG.search(text), RANGE_TAG.search(text)


@pytest.mark.parametrize("path", ALL + GROUPS, ids=lambda path: " ".join(path) or "ozy")
def test_a_summary_is_one_line_and_a_flag_has_no_negated_twin(path: tuple[str, ...]) -> None:
    command = command_at(path)
    summary = inspect.cleandoc(command.help or "").split("\n\n")[0]
    assert summary and "\n" not in summary and len(summary) <= 100, summary
    # typer's `--purge-volumes / --no-purge-volumes [default: no-purge-volumes]`: noise.
    assert [p.name for p in command.params if getattr(p, "secondary_opts", [])] == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("scale",), "Usage: ozy scale [OPTIONS] JOB INSTANCES"),
        (("delete", "volume"), "Usage: ozy delete volume [OPTIONS] JOB/NAME"),
        (("logs",), "Usage: ozy logs [OPTIONS] INSTANCE"),
        (("get", "events"), "Show at most this many, the newest (1 to 1000)."),
        (("tls", "ca", "create"), "How long the CA is valid, in days (1 to 36500)."),
    ],
)
def test_usage_lines_and_ranges_read_as_kubectls(
    path: tuple[str, ...],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert expected in help_of(path, capsys)


def test_delete_lists_both_forms_with_examples(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    text = help_of(("delete",), capsys)
    assert "Example: ozy delete simple-webapp" in text
    assert "Example: ozy delete volume simple-webapp/data-shared" in text
    assert re.search(r"│ job +Delete a job", text) and re.search(r"│ volume +Delete a shared", text)
    # `ozy delete volume --help` is the volume's help, not the job's.
    assert "Delete a shared volume" in help_of(("delete", "volume"), capsys)


def test_node_lists_its_commands_and_none_of_the_daemons_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    text = help_of(("node",), capsys)
    for command in ("run", "cordon", "uncordon", "drain"):
        assert re.search(rf"│ {command} ", text), command
    for flag in ("--api-port", "--labels", "--tls-cert", "--max-instances"):
        assert flag not in text
    daemon = help_of(("node", "run"), capsys)
    for flag in ("--name", "--etcd", "--api-port", "--labels", "--tls-cert", "--max-instances"):
        assert flag in daemon
