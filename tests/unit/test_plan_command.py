"""`ozy plan` (cli/plan_command.py) on the API's answer (api/views.py's `job_plan`): what it
prints, and its exit codes, as `nomad job plan`'s: 0 no change, 1 changes, 255 an error."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console

from ozymandias.api.views import job_plan
from ozymandias.cli import app, plan_command
from ozymandias.cli.api_client import DEFAULT_API
from ozymandias.cluster.records import JobRecord, Resources, Schedule
from ozymandias.jobs.errors import JobRejected
from ozymandias.jobs.service import ApplyResult
from ozymandias.scheduling.preemption import Preemptible
from ozymandias.spec.loader import load_job

CURRENT = "name: web\nnumInstances: 2\ncontainers: {app: {image: web:1, memory: 64M}}\n"
SCHEDULE = Schedule(job="web", placements={0: "n1", 1: "n2"})
RECORD = JobRecord(spec=load_job(CURRENT), version=1)


def answer(text: str) -> dict[str, Any]:
    """The API's answer to a plan of `text` against CURRENT at modify index 42."""
    spec = load_job(text)
    if spec.containers["app"].memory > 1024**3:
        rejection = JobRejected("insufficient-memory", "Insufficient memory for job", "no room")
        return job_plan(spec, RECORD, 42, rejection)
    new_pods = spec.pod_fingerprint() != RECORD.spec.pod_fingerprint()
    result = ApplyResult(
        job=JobRecord(spec=spec, version=2 if new_pods else 1),
        schedule=SCHEDULE,
        placed={},
        stopped=[],
        created=False,
        changed=spec != RECORD.spec,
        dry_run=True,
        previous=RECORD,
        previous_schedule=SCHEDULE,
        modify_index=42,
    )
    return job_plan(spec, RECORD, 42, result)


def run_plan(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch, output: str = "table"
) -> tuple[int, str]:
    console = Console(width=200, record=True)
    monkeypatch.setattr(plan_command, "out", console)
    monkeypatch.setattr(app, "out", console)  # print_data's
    monkeypatch.setattr(plan_command, "call", lambda *_, **__: answer(text))
    file = tmp_path / "web.yaml"
    file.write_text(text)
    with pytest.raises(typer.Exit) as exited, console.capture() as captured:
        plan_command.show_plan(file, DEFAULT_API, output)
    return exited.value.exit_code, captured.get()


def test_the_same_spec_plans_no_change_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown = run_plan(tmp_path, CURRENT, monkeypatch)
    assert code == 0
    assert "job web: no changes" in shown and "job modify index: 42" in shown
    assert "--check-index" not in shown


def test_a_new_image_plans_replacements_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown = run_plan(tmp_path, CURRENT.replace("web:1", "web:2"), monkeypatch)
    assert code == 1
    assert "    ~ image: web:1 => web:2" in shown
    assert "Instances (2 replaced)" in shown and "web-1     replaced  n2" in shown
    assert "--check-index 42" in shown


def test_a_job_that_does_not_fit_shows_why_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown = run_plan(tmp_path, CURRENT.replace("64M", "2G"), monkeypatch)
    assert code == 1
    assert "~ memory: 64M => 2G" in shown
    assert "does not fit: Insufficient memory for job: no room" in shown


def test_machines_get_the_answer_and_the_same_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, shown = run_plan(tmp_path, CURRENT.replace("web:1", "web:2"), monkeypatch, "json")
    assert code == 1
    assert '"modifyIndex": 42' in shown and '"action": "replaced"' in shown


@pytest.mark.parametrize(
    ("text", "output"),
    [("name: web\n", "table"), (CURRENT, "xml")],
    ids=["an invalid job", "an unknown output"],
)
def test_a_plan_that_cannot_be_made_exits_255(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, output: str
) -> None:
    monkeypatch.setattr(app, "err", Console(width=200, stderr=True))
    code, _ = run_plan(tmp_path, text, monkeypatch, output)
    assert code == 255


def test_a_plan_names_the_instances_it_preempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = CURRENT.replace("numInstances: 2", "numInstances: 3\npriority: 80")
    spec = load_job(text)
    schedule = Schedule(job="web", placements={0: "n1", 1: "n2", 2: "n2"})
    result = ApplyResult(
        job=JobRecord(spec=spec, version=1),
        schedule=schedule,
        placed={2: "n2"},
        stopped=[],
        created=False,
        changed=True,
        dry_run=True,
        previous=RECORD,
        previous_schedule=SCHEDULE,
        modify_index=42,
        victims=(Preemptible("batch", 4, "n2", 10, Resources(memory=64 * 1024**2)),),
    )
    planned = job_plan(spec, RECORD, 42, result)
    assert planned["preempted"] == [
        {"name": "batch-4", "job": "batch", "index": 4, "node": "n2", "priority": 10}
    ]
    console = Console(width=200, record=True)
    monkeypatch.setattr(plan_command, "out", console)
    monkeypatch.setattr(plan_command, "call", lambda *_, **__: planned)
    file = tmp_path / "web.yaml"
    file.write_text(text)
    with pytest.raises(typer.Exit) as exited, console.capture() as captured:
        plan_command.show_plan(file, DEFAULT_API, "table")
    shown = captured.get()
    assert exited.value.exit_code == 1
    # The priority is no part of the pods: they are updated in place, not replaced.
    assert "Instances (2 updated in place, 1 created, 1 preempted)" in shown
    assert re.search(r"batch-4 +preempted +n2", shown)
    # Nor of the version.
    assert planned["newVersion"] == 1
