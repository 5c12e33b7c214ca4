"""What the CLI and the agent print for people: pure renderers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from rich.console import Console

from ozymandias.agent.health_following import one_line
from ozymandias.cli import app, cluster_commands, get_commands
from ozymandias.cli.tables import events_table, nodes_table
from ozymandias.local_cluster import one_node
from ozymandias.plans.notation import spec_notation
from ozymandias.spec.loader import dump_job, job_from_data


def rendered(table: object, width: int = 200) -> str:
    console = Console(width=width, record=True, file=None, force_terminal=False)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


def test_event_times_carry_their_date() -> None:
    when = time.mktime((2026, 12, 3, 23, 4, 5, 0, 0, -1))
    event = {"time": when, "kind": "job-committed", "instance": "", "job": "web", "node": ""}
    text = rendered(events_table([{**event, "message": "job web committed"}]))
    assert "2026-12-03 23:04:05" in text


@pytest.mark.parametrize(
    ("output", "line"),
    [
        ("pg_isready: no response\n", "pg_isready: no response"),
        ("line one\nline two\r\n\tthree", "line one line two three"),
        ("", ""),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_a_checks_output_becomes_one_line(output: str, line: str) -> None:
    assert one_line(output) == line


@pytest.mark.parametrize(
    ("output", "parse"),
    [("json", json.loads), ("yaml", yaml.safe_load)],
)
def test_machines_get_the_apis_data_as_json_or_yaml(
    output: str, parse: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "out", Console(width=20))  # narrow: nothing may wrap
    data = [{"name": "web-0", "reason": "a reason longer than the terminal is wide", "n": 1}]
    app.print_data(output, data)
    assert parse(capsys.readouterr().out) == data


def test_an_unknown_output_is_refused() -> None:
    with pytest.raises(typer.Exit):
        app.check_output("xml")


def test_describe_job_shows_the_spec_whole_even_on_a_narrow_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = ["sh", "-c", "echo [warning] a long line that a narrow terminal cannot hold"]
    data = {"name": "web", "containers": {"app": {"image": "x", "command": command}}}
    spec = job_from_data(data)
    job = {"name": "web", "version": 1, "numInstances": 1, "spec": dump_job(spec), "instances": []}
    job["events"] = []
    monkeypatch.setattr(get_commands, "call", lambda *_args, **_kwargs: job)
    monkeypatch.setattr(get_commands, "out", Console(width=30))
    get_commands.describe_job("web", api="http://ozy.invalid", output="table")
    shown = capsys.readouterr().out.split("Spec\n")[1].split("\n\nInstances")[0]
    # Brackets are YAML, not rich markup; no line is folded.
    assert yaml.safe_load(shown) == spec_notation(spec)


def test_ozy_up_prints_the_export_on_one_line_at_80_columns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(one_node, "start_detached", lambda _config, progress: True)
    monkeypatch.setattr(cluster_commands, "out", Console(width=80))
    cluster_commands.up(detach=True, data_dir=tmp_path / "a-data-dir-of-some-length")
    line, *_, last = capsys.readouterr().out.splitlines()
    assert line.endswith("(export OZY_API=http://127.0.0.1:7070)"), line
    assert last == "http://127.0.0.1:7070/ui/"  # the dashboard, last


def test_get_nodes_shows_cpu_in_cores_beside_memory_and_disk() -> None:
    node = {
        "name": "n1",
        "cordoned": False,
        "address": "10.0.0.1",
        "labels": {},
        "capacity": {"memory": 2 * 1024**3, "disk": 10 * 1024**3, "cpu": 2000},
        "allocated": {"memory": 1024**3, "disk": 0, "cpu": 1250},
        "load": 0.35,
        "loadThreshold": 0.8,
    }
    text = rendered(nodes_table([node, {**node, "name": "n2", "load": 1.5}]))
    assert "CPU (ALLOC/CAP)" in text
    assert "1.25 / 2" in text and "1G / 2G" in text
    assert "0.35" in text and "1.50 (busy)" in text
