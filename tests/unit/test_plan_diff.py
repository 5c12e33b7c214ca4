"""The diff `ozy plan` shows (plans/spec_diff.py): per container and field, in the user's
notation, with +, - and ~."""

from __future__ import annotations

import pytest

from ozymandias.plans.spec_diff import (
    diff_from_json,
    diff_lines,
    diff_specs,
    diff_to_json,
    shown_value,
)
from ozymandias.spec.loader import load_job

CURRENT = """
name: web
numInstances: 2
containers:
  app:
    image: web:1
    environment: {MODE: prod, LEVEL: info}
    ports: ["80:3000"]
    memory: 64M
"""


def changed(old: str, new: str) -> str:
    assert old in CURRENT, old
    return CURRENT.replace(old, new)


@pytest.mark.parametrize(
    ("proposed", "lines"),
    [
        pytest.param(
            changed("image: web:1", "image: web:2"),
            ["~ job web", "  ~ container app", "    ~ image: web:1 => web:2"],
            id="image",
        ),
        pytest.param(
            changed("{MODE: prod, LEVEL: info}", "{MODE: dev, DEBUG: '1'}"),
            [
                "~ job web",
                "  ~ container app",
                "    ~ environment.MODE: prod => dev",
                "    + environment.DEBUG: 1",
                "    - environment.LEVEL: info",
            ],
            id="env",
        ),
        pytest.param(
            changed("memory: 64M", "memory: 128M"),
            ["~ job web", "  ~ container app", "    ~ memory: 64M => 128M"],
            id="memory",
        ),
        pytest.param(
            changed('["80:3000"]', '["8080:3000", "9090/udp"]'),
            [
                "~ job web",
                "  ~ container app",
                "    - ports: 80:3000",
                "    + ports: 8080:3000",
                "    + ports: 9090/udp",
            ],
            id="ports",
        ),
        pytest.param(
            changed("numInstances: 2", "numInstances: 5"),
            ["~ job web", "  ~ numInstances: 2 => 5"],
            id="numInstances",
        ),
        pytest.param(
            CURRENT + "  sidecar:\n    image: proxy:1\n    ports: [9000]\n    memory: 32M\n",
            [
                "~ job web",
                "  + container sidecar",
                "    + image: proxy:1",
                "    + ports: 9000",
                "    + memory: 32M",
            ],
            id="a new container",
        ),
        pytest.param(
            changed("    memory: 64M\n", "    memory: 64M\n    command: sleep 10\n"),
            ["~ job web", "  ~ container app", '    + command: ["sleep", "10"]'],
            id="a new field",
        ),
        pytest.param(
            changed("    ports", "    command: [sh, -c, 'sleep 1']\n    ports"),
            ["~ job web", "  ~ container app", '    + command: ["sh", "-c", "sleep 1"]'],
            id="a command, whole",
        ),
        pytest.param(
            CURRENT.replace("  app:", "  api:"),
            [
                "~ job web",
                "  + container api",
                "    + image: web:1",
                "    + environment.MODE: prod",
                "    + environment.LEVEL: info",
                "    + ports: 80:3000",
                "    + memory: 64M",
                "  - container app",
                "    - image: web:1",
                "    - environment.MODE: prod",
                "    - environment.LEVEL: info",
                "    - ports: 80:3000",
                "    - memory: 64M",
            ],
            id="a container renamed: one added, one removed",
        ),
        pytest.param(
            CURRENT + "ingress: {hosts: [web.example.com]}\n",
            ["~ job web", "  + ingress.hosts: web.example.com"],
            id="ingress added",
        ),
        pytest.param(CURRENT, [], id="nothing"),
        pytest.param(
            changed("memory: 64M", "memory: 67108864"), [], id="the same, written otherwise"
        ),
    ],
)
def test_a_change_shows_as_its_fields_in_the_users_notation(
    proposed: str, lines: list[str]
) -> None:
    diff = diff_specs(load_job(CURRENT), load_job(proposed))
    assert diff_lines(diff, "web") == lines
    assert diff.changed == bool(lines)
    # The API carries the diff as JSON; the CLI prints it from there, the same.
    assert diff_from_json(diff_to_json(diff)) == diff


def test_command_changes_show_whole_and_volume_changes_by_index() -> None:
    old = changed("    memory: 64M\n", "    memory: 64M\n    command: [sleep, '10']\n"
                  "    volumes: [{type: local, path: /a, space: 1G}]\n")  # fmt: skip
    new = old.replace("'10'", "'20'").replace("space: 1G", "space: 2G")
    assert diff_lines(diff_specs(load_job(old), load_job(new)), "web") == [
        "~ job web",
        "  ~ container app",
        '    ~ command: ["sleep", "10"] => ["sleep", "20"]',
        "    ~ volumes[0].space: 1G => 2G",
    ]


def test_ports_reordered_show_as_one_change() -> None:
    old = changed('["80:3000"]', '["80:3000", "9000"]')
    new = changed('["80:3000"]', '["9000", "80:3000"]')
    assert diff_lines(diff_specs(load_job(old), load_job(new)), "web")[-1] == (
        '    ~ ports: ["80:3000", "9000"] => ["9000", "80:3000"]'
    )


def test_a_new_job_shows_every_field_added() -> None:
    diff = diff_specs(None, load_job(CURRENT))
    assert diff.op == "+"
    assert diff_lines(diff, "web") == [
        "+ job web",
        "  + numInstances: 2",
        "  + container app",
        "    + image: web:1",
        "    + environment.MODE: prod",
        "    + environment.LEVEL: info",
        "    + ports: 80:3000",
        "    + memory: 64M",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("web:1", "web:1"), ("", '""'), ("a b", '"a b"'), (3, "3"), (True, "true"),
     (None, "null"), (["a", "b"], '["a", "b"]')],
)  # fmt: skip
def test_values_show_on_one_line_quoted_only_when_needed(value: object, shown: str) -> None:
    assert shown_value(value) == shown
