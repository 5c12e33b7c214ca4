"""A job shown as its user wrote it (plans/notation.py): sizes, durations, ports, no defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ozymandias.plans.notation import spec_notation
from ozymandias.spec.durations import format_duration, parse_duration
from ozymandias.spec.loader import dump_job, load_job
from ozymandias.spec.models import JobSpec

WEBAPP = (Path(__file__).parent / "fixtures" / "simple-webapp.yaml").read_text()
MINIMAL = """
name: web
containers:
  app:
    image: busybox
"""


def notation_of(text: str) -> dict[str, Any]:
    return spec_notation(load_job(text))


def test_a_minimal_job_reads_back_as_written_with_its_count_and_memory() -> None:
    assert notation_of(MINIMAL) == {
        "name": "web",
        "numInstances": 1,
        "containers": {"app": {"image": "busybox", "memory": "256M"}},
    }


@pytest.mark.parametrize(
    ("container", "shown"),
    [
        pytest.param("memory: 64M", {"memory": "64M"}, id="memory in the user's unit"),
        pytest.param("memory: 1536M", {"memory": "1.5G"}, id="memory in the shortest unit"),
        pytest.param('ports: ["80:3000"]', {"ports": ["80:3000"]}, id="port mapping"),
        pytest.param("ports: [3000]", {"ports": ["3000"]}, id="same port both sides"),
        pytest.param('ports: ["53/udp"]', {"ports": ["53/udp"]}, id="udp port"),
        pytest.param('ports: ["5353:53/udp"]', {"ports": ["5353:53/udp"]}, id="udp mapping"),
        pytest.param("command: sleep 10", {"command": ["sleep", "10"]}, id="command"),
        pytest.param("environment: [A=1]", {"environment": {"A": "1"}}, id="env as a map"),
        pytest.param("restart: always", {}, id="restart at its default"),
        pytest.param("restart: never", {"restart": "never"}, id="restart"),
        pytest.param("cpus: 0.5", {"cpus": 0.5}, id="cpus"),
        pytest.param("pids: 2048", {}, id="pids at its default"),
        pytest.param(
            "healthcheck: {type: tcp, port: 80}",
            {"healthcheck": {"type": "tcp", "port": 80}},
            id="a check's defaults left out",
        ),
        pytest.param(
            "healthcheck: {type: http, port: 80, interval: 2, start_period: 90}",
            {
                "healthcheck": {
                    "type": "http",
                    "port": 80,
                    "interval": "2s",
                    "start_period": "1m30s",
                }
            },
            id="durations, and the timeout implied by the interval left out",
        ),
        pytest.param(
            "healthcheck: {type: http, port: 80, timeout: 500ms}",
            {"healthcheck": {"type": "http", "port": 80, "timeout": "500ms"}},
            id="a timeout the user set",
        ),
        pytest.param(
            "volumes: [{type: local, path: /data/x, space: 100M}]",
            {"volumes": [{"type": "local", "path": "/data/x", "space": "100M"}]},
            id="volume with the name its path implies",
        ),
        pytest.param(
            "volumes: [{type: shared, path: /data, space: 1G, name: db}]",
            {"volumes": [{"type": "shared", "path": "/data", "space": "1G", "name": "db"}]},
            id="volume with a name of its own",
        ),
        pytest.param(
            "secrets: [{secret: db, key: pw, env: PW}]",
            {"secrets": [{"secret": "db", "key": "pw", "env": "PW"}]},
            id="secret without nulls",
        ),
    ],
)
def test_a_containers_fields_read_as_the_user_writes_them(
    container: str, shown: dict[str, Any]
) -> None:
    text = MINIMAL + "".join(f"    {line}\n" for line in container.splitlines())
    expected = {"image": "busybox", "memory": "256M", **shown}
    assert notation_of(text)["containers"]["app"] == expected


@pytest.mark.parametrize(
    ("job", "shown"),
    [
        pytest.param("numInstances: 3", {"numInstances": 3}, id="count"),
        pytest.param("nodeSelector: {zone: a}", {"nodeSelector": {"zone": "a"}}, id="selector"),
        pytest.param(
            "schedulingConstraints: {cannotBeScheduledOn: [n1]}",
            {"schedulingConstraints": {"cannotBeScheduledOn": ["n1"]}},
            id="constraints by their own names",
        ),
        pytest.param(
            "update: {max_parallel: 2, min_healthy_time: 30s, auto_revert: true}",
            {"update": {"max_parallel": 2, "min_healthy_time": "30s"}},
            id="update block: durations, defaults left out",
        ),
        pytest.param(
            "affinity: [{key: disk, operator: Exists}]",
            {"affinity": [{"key": "disk", "operator": "Exists"}]},
            id="affinity",
        ),
    ],
)
def test_a_jobs_fields_read_as_the_user_writes_them(job: str, shown: dict[str, Any]) -> None:
    notation = notation_of(MINIMAL + job + "\n")
    assert {key: notation[key] for key in shown} == shown
    assert set(notation) == {"name", "numInstances", "containers", *shown}


def test_the_design_posts_job_reads_back_without_internal_fields() -> None:
    shown = yaml.safe_dump(notation_of(WEBAPP))
    for internal in ("cluster_port", "container_port", "null", "67108864", "2147483648"):
        assert internal not in shown
    assert "80:3000" in shown and "memory: 2G" in shown and "interval: 1m" in shown


def test_the_notation_is_a_job_that_parses_back_to_the_same_spec() -> None:
    spec = load_job(WEBAPP)
    assert load_job(yaml.safe_dump(spec_notation(spec))) == spec
    # The stored form, as the API answers it, reads back to the same notation.
    assert spec_notation(JobSpec.model_validate(dump_job(spec))) == spec_notation(spec)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.5, "500ms"), (1, "1s"), (2.5, "2.5s"), (60, "1m"), (90, "1m30s"),
     (3600, "1h"), (3725, "1h2m5s")],
)  # fmt: skip
def test_durations_format_as_compose_writes_them_and_parse_back(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
