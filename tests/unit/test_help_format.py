"""How `--help` says a range and writes an argument in a usage line."""

from __future__ import annotations

import pytest

from ozymandias.cli.help_format import range_phrase, usage_piece, with_range


@pytest.mark.parametrize(
    ("low", "high", "phrase"),
    [
        (1, None, "at least 1"),
        (0, None, ""),  # a count or a duration: never negative, said or not
        (None, None, ""),
        (None, 10, "at most 10"),
        (1, 36500, "1 to 36500"),
        (0, 1, "0 to 1"),
        (0.5, None, "at least 0.5"),
    ],
)
def test_a_range_in_words(low: float | None, high: float | None, phrase: str) -> None:
    assert range_phrase(low, high) == phrase


@pytest.mark.parametrize(
    ("text", "phrase", "result"),
    [
        ("How long, in days.", "1 to 100", "How long, in days (1 to 100)."),
        ("How long, in days", "1 to 100", "How long, in days (1 to 100)"),
        ("How long.  ", "at least 1", "How long (at least 1)."),
        ("", "at least 1", "(at least 1)"),
        ("Unchanged.", "", "Unchanged."),
    ],
)
def test_the_range_ends_the_help(text: str, phrase: str, result: str) -> None:
    assert with_range(text, phrase) == result


@pytest.mark.parametrize(
    ("name", "required", "many", "piece"),
    [
        ("JOB", True, False, "JOB"),
        ("VOLUME", False, False, "[VOLUME]"),
        ("FILE", True, True, "FILE..."),
        ("FILE...", True, True, "FILE..."),
        ("ARG", False, True, "[ARG]..."),
    ],
)
def test_an_argument_in_a_usage_line(name: str, required: bool, many: bool, piece: str) -> None:
    assert usage_piece(name, required=required, many=many) == piece
