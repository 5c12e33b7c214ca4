"""Destructive commands ask first on a terminal, and refuse off one without --yes."""

from __future__ import annotations

import io
import sys

import pytest
import typer

from ozymandias.cli import app


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_yes_goes_ahead_without_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typer, "confirm", lambda *a, **k: pytest.fail("asked"))
    app.confirm_destroying("deleting shared volume j/v", yes=True)


def test_off_a_terminal_it_refuses_without_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(typer.Exit) as exit_:
        app.confirm_destroying("deleting shared volume j/v", yes=False)
    assert exit_.value.exit_code == 2


@pytest.mark.parametrize(("answer", "goes_ahead"), [(True, True), (False, False)])
def test_on_a_terminal_it_asks(
    monkeypatch: pytest.MonkeyPatch, answer: bool, goes_ahead: bool
) -> None:
    asked: list[str] = []

    def confirm(text: str, default: bool) -> bool:
        asked.append(text)
        assert default is False  # Enter keeps the data
        return answer

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(typer, "confirm", confirm)
    if goes_ahead:
        app.confirm_destroying("deleting shared volume j/v", yes=False)
    else:
        with pytest.raises(typer.Exit):
            app.confirm_destroying("deleting shared volume j/v", yes=False)
    assert asked == ["deleting shared volume j/v: its data cannot be recovered. Go ahead?"]
