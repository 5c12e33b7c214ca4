"""`ozy history`'s table, and what `ozy rollback` asks the API, against a fake of it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ozymandias.cli import history_commands
from ozymandias.cli.commands import app
from ozymandias.cli.tables import versions_table


def rendered(table: object) -> str:
    console = Console(width=200, record=True, file=None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def test_the_history_table_marks_the_current_version_and_the_stable_ones() -> None:
    when = time.mktime((2026, 12, 3, 23, 4, 5, 0, 0, -1))
    versions: list[dict[str, Any]] = [
        {
            "version": 2,
            "submittedAt": when,
            "deploymentStatus": "running",
            "stable": False,
            "current": True,
            "summary": "image web:1 → web:2",
        },
        {
            "version": 1,
            "submittedAt": when,
            "deploymentStatus": None,
            "stable": True,
            "current": False,
            "summary": "first version",
        },
    ]
    lines = rendered(versions_table(versions)).splitlines()
    assert lines[1].split() == [
        *["2", "(current)", "2026-12-03", "23:04:05", "running", "no"],
        *["image", "web:1", "→", "web:2"],
    ]
    assert lines[2].split() == ["1", "2026-12-03", "23:04:05", "-", "yes", "first", "version"]


class FakeApi:
    """Answers the rollback's preview and commit as the API would, and records the calls."""

    def __init__(self, changed: bool = True) -> None:
        self.changed = changed
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, api: str, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path, kwargs))
        dry_run = kwargs.get("params", {}).get("dryRun") == "true"
        return {
            "warnings": [],
            "name": "shop",
            "dryRun": dry_run,
            "created": False,
            "changed": self.changed,
            "version": 4 if self.changed else 3,
            "numInstances": 2,
            "placements": {},
            "placed": {},
            "stopped": [],
            "rolledBackTo": 2,
            "changes": "image web:3 → web:2",
        }


def rollback(*arguments: str) -> Any:
    return CliRunner().invoke(app, ["rollback", "shop", *arguments], catch_exceptions=False)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    api = FakeApi()
    monkeypatch.setattr(history_commands, "call", api)
    monkeypatch.setattr(history_commands, "job_version", lambda api, job: 3)
    return api


def test_rollback_previews_then_commits_the_version_it_previewed(fake: FakeApi) -> None:
    result = rollback("--yes", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "rolled back to version 2's spec: version 4" in result.output
    (_, path, preview), (_, _, commit) = fake.calls
    assert path == "/v1/jobs/shop/rollback"
    assert preview == {"params": {"dryRun": "true"}}  # no body: the API picks the version
    assert commit == {"json": {"version": 2}}


def test_rollback_to_a_named_version_asks_for_it(fake: FakeApi) -> None:
    rollback("--to", "2", "--yes", "--no-wait")
    assert fake.calls[0][2] == {"params": {"dryRun": "true"}, "json": {"version": 2}}


def test_off_a_terminal_rollback_needs_yes_and_commits_nothing(fake: FakeApi) -> None:
    result = rollback()
    assert result.exit_code == 2 and "pass --yes" in result.output
    assert len(fake.calls) == 1  # the preview only


def test_a_rollback_to_the_running_spec_commits_nothing(fake: FakeApi) -> None:
    fake.changed = False
    result = rollback("--yes")
    assert result.exit_code == 0 and "nothing to do" in result.output
    assert len(fake.calls) == 1


def test_rollback_follows_the_new_versions_deployment_as_apply_does(
    fake: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    followed: list[tuple[Any, ...]] = []
    monkeypatch.setattr(history_commands, "follow_the_rollout", lambda *a: followed.append(a))
    assert rollback("--yes", "--timeout", "30").exit_code == 0
    [(_, job, before, version, timeout, _)] = followed
    assert (job, before, version, timeout) == ("shop", 3, 4, 30.0)
