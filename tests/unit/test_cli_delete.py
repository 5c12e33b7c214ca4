"""`ozy delete`: which command, with which API call, each way of typing it reaches."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from ozymandias.cli import delete_commands
from ozymandias.cli.commands import app
from ozymandias.cli.help_format import name_the_values
from ozymandias.cli.job_by_default import route

COMMANDS = ("job", "volume")
VALUED = ("--api",)


@pytest.mark.parametrize(
    ("args", "routed"),
    [
        (["web"], ["job", "web"]),
        (["web", "--purge-volumes", "-y"], ["job", "web", "--purge-volumes", "-y"]),
        (["-y", "web"], ["job", "-y", "web"]),
        (["--api", "http://h:7070", "web"], ["job", "--api", "http://h:7070", "web"]),
        (["--api=http://h:7070", "web"], ["job", "--api=http://h:7070", "web"]),
        (["job", "volume"], ["job", "volume"]),
        (["volume"], ["volume"]),
        (["volume", "web/data"], ["volume", "web/data"]),
        (["-y", "volume", "web/data"], ["volume", "-y", "web/data"]),
        (["--api", "volume", "web/data"], ["job", "--api", "volume", "web/data"]),
        (["--help"], ["--help"]),
        ([], []),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_the_first_word_picks_the_command_or_names_a_job(
    args: list[str], routed: list[str]
) -> None:
    assert route(args, COMMANDS, VALUED) == routed


Call = tuple[str, str, dict[str, str]]


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """The API calls `ozy delete` makes, answered as the API does, but not sent."""
    calls: list[Call] = []

    def fake_call(api: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        calls.append((method, path, kwargs.get("params", {})))
        if path.startswith("/v1/volumes/"):
            return {"where": "zone a", "reachable": True, "size": 0}
        return {"keptVolumes": [], "purgedVolumes": []}

    monkeypatch.setattr(delete_commands, "call", fake_call)
    return calls


def ozy(*args: str) -> int:
    command = typer.main.get_command(app)
    name_the_values(command)
    try:
        command.main(args=list(args), prog_name="ozy")
    except SystemExit as exited:
        return int(exited.code or 0)
    return 0


@pytest.mark.parametrize(
    ("args", "code", "calls"),
    [
        (["delete", "web"], 0, [("DELETE", "/v1/jobs/web", {})]),
        (["delete", "job", "web"], 0, [("DELETE", "/v1/jobs/web", {})]),
        (["delete", "job", "volume"], 0, [("DELETE", "/v1/jobs/volume", {})]),
        (
            ["delete", "web", "--purge-volumes", "--yes"],
            0,
            [("DELETE", "/v1/jobs/web", {"purgeVolumes": "true"})],
        ),
        (["delete", "volume"], 2, []),
        (["delete", "volume", "web/data", "--yes"], 0, [("DELETE", "/v1/volumes/web/data", {})]),
        (["delete", "-y", "volume", "web/data"], 0, [("DELETE", "/v1/volumes/web/data", {})]),
        (
            ["delete", "volume", "web/data", "--forget"],
            0,
            [("DELETE", "/v1/volumes/web/data", {"forget": "true"})],
        ),
        (["delete", "volume", "web"], 2, []),
        (["delete", "web", "--forget"], 2, []),
        (["delete", "job"], 2, []),
    ],
    ids=lambda value: (
        " ".join(value) if isinstance(value, list) and value[:1] == ["delete"] else ""
    ),
)
def test_each_form_deletes_what_it_names_and_nothing_else(
    args: list[str], code: int, calls: list[Call], api_calls: list[Call]
) -> None:
    assert ozy(*args) == code
    assert api_calls == calls
