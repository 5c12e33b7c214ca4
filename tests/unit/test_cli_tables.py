"""Every table at 80, 120 and 200 columns and through a pipe: each row one line, no cell cut,
and the long free text only in `-o wide`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.console import Console
from rich.table import Table

from ozymandias.cli.secret_commands import secrets_table
from ozymandias.cli.table_output import print_table
from ozymandias.cli.tables import (
    aliases_table,
    deployment_instances_table,
    deployments_table,
    events_table,
    ingress_table,
    instances_table,
    jobs_table,
    nodes_table,
    versions_table,
    volumes_table,
)
from ozymandias.cli.token_commands import tokens_table

REASON = "check http://10.213.0.15:8080/healthz answered 404 Not Found three times in a row"

INSTANCE = {
    "name": "simple-webapp-10",
    "node": "node-with-a-long-name",
    "state": "running",
    "health": "unhealthy",
    "specVersion": 12,
    "restarts": 3,
    "podIP": "10.213.0.15",
    "reason": REASON,
}
JOB = {
    "name": "simple-webapp",
    "numInstances": 3,
    "running": 2,
    "states": {"running": 2, "pending": 1},
    "version": 4,
    "labels": {"team": "payments", "tier": "frontend"},
    "priority": 85,
}
NODE = {
    "name": "node-with-a-long-name",
    "cordoned": False,
    "address": "192.168.122.201",
    "labels": {"zone": "europe-west-1a", "disk": "ssd", "team": "payments"},
    "allocated": {"memory": 512 * 2**20, "disk": 10 * 2**30, "cpu": 1500},
    "capacity": {"memory": 16 * 2**30, "disk": 200 * 2**30, "cpu": 8000},
    "load": 1.25,
    "loadThreshold": 0.8,
}
INGRESS = {
    "http": [
        {
            "hosts": ["shop.example.com", "www.shop.example.com", "shop.localhost"],
            "job": "shop",
            "port": 8080,
            "healthy": 3,
            "backends": [{"address": f"10.213.0.{i}:8080"} for i in range(10, 13)],
        }
    ],
    "tcp": [
        {"port": 15432, "job": "db", "targetPort": 5432, "healthy": 1, "backends": []},
    ],
    "conflicts": [],
}
DEPLOYMENT = {
    "job": "simple-webapp",
    "version": 4,
    "status": "running",
    "healthy": 2,
    "desired": 3,
    "unhealthy": 1,
    "placed": 3,
    "canary": 0,
    "promoted": False,
    "description": "waiting for simple-webapp-10 to turn healthy: " + REASON,
}
DEPLOYMENT_INSTANCE = {
    **INSTANCE,
    "canary": True,
    "replaces": 1,
    "version": 4,
    "runningVersion": 3,
}
EVENT = {
    "time": 1_800_000_000.0,
    "kind": "instance-unhealthy",
    "instance": "simple-webapp-10",
    "job": "simple-webapp",
    "node": "node-with-a-long-name",
    "message": REASON,
}
CHANGES = "image nginx:1.25 → nginx:1.27; numInstances 2 → 3"
VERSION = {
    "version": 4,
    "current": True,
    "submittedAt": 1_800_000_000.0,
    "deploymentStatus": "running",
    "stable": False,
    "summary": CHANGES,
}
VOLUME = {
    "name": "simple-webapp-data-10",
    "kind": "local",
    "size": 2**30,
    "used": None,
    "zone": "",
    "node": "node-with-a-long-name",
    "state": "in use",
}
SECRET = {
    "name": "db",
    "keys": ["password", "username", "replication-password"],
    "version": 2,
    "updateTime": 1_800_000_000.0,
    "keyId": "k-2026-12-01",
}
TOKEN = {"name": "ci", "role": "operator", "accessor": "a1b2c3d4e5f6", "createTime": 1.8e9}
ALIAS = {"name": "api", "targets": ["job:simple-webapp", "job:shop", "node:node-with-a-long-name"]}

TableOf = Callable[[bool], Table]

# (table, cells each default row must show whole, cells only `-o wide` shows)
TABLES: dict[str, tuple[TableOf, list[str], list[str]]] = {
    "instances": (
        lambda wide: instances_table([INSTANCE], wide),
        ["simple-webapp-10", "node-with-a-long-name", "unhealthy", "10.213.0.15"],
        ["REASON", REASON],
    ),
    "jobs": (
        lambda wide: jobs_table([JOB], wide),
        ["simple-webapp", "running 2, pending 1"],
        ["PRIORITY", "85", "LABELS", "team=payments,tier=frontend"],
    ),
    "nodes": (
        lambda wide: nodes_table([NODE], wide),
        ["node-with-a-long-name", "192.168.122.201", "512M / 16G", "10G / 200G"],
        ["LABELS", "disk=ssd,team=payments,zone=europe-west-1a"],
    ),
    "ingress": (
        lambda wide: ingress_table(INGRESS, wide),
        ["http shop.example.com, www.shop.example.com, shop.localhost", "tcp :15432"],
        ["BACKENDS", "10.213.0.10:8080 10.213.0.11:8080 10.213.0.12:8080"],
    ),
    "deployments": (
        lambda wide: deployments_table([DEPLOYMENT], wide),
        ["simple-webapp", "2/3 (1 unhealthy)"],
        ["DESCRIPTION", REASON],
    ),
    "deployment status": (
        lambda wide: deployment_instances_table([DEPLOYMENT_INSTANCE], wide),
        ["simple-webapp-10", "node-with-a-long-name"],
        ["NOTE", REASON],
    ),
    "events": (
        lambda wide: events_table([EVENT], wide),
        ["instance-unhealthy", "simple-webapp-10", REASON],
        [],
    ),
    "history": (
        lambda wide: versions_table([VERSION], wide),
        ["4 (current)", CHANGES],
        [],
    ),
    "volumes": (
        lambda wide: volumes_table([VOLUME], wide),
        ["simple-webapp-data-10", "node node-with-a-long-name"],
        [],
    ),
    "secrets": (
        lambda wide: secrets_table([SECRET], wide),
        ["db", "password, username, replication-password"],
        ["KEY ID", "k-2026-12-01"],
    ),
    "tokens": (lambda wide: tokens_table([TOKEN], wide), ["ci", "a1b2c3d4e5f6"], []),
    "aliases": (
        lambda wide: aliases_table([ALIAS], wide),
        ["api", "job:simple-webapp, job:shop, node:node-with-a-long-name"],
        [],
    ),
}

# (width, a terminal?): a pipe is not a terminal, and rich gives it 80 columns.
SCREENS = [(80, True), (120, True), (200, True), (80, False)]


def printed(table: Table, width: int, terminal: bool) -> list[str]:
    console = Console(width=width, force_terminal=terminal, color_system=None)
    with console.capture() as capture:
        print_table(console, table)
    return capture.get().splitlines()


@pytest.mark.parametrize(("width", "terminal"), SCREENS)
@pytest.mark.parametrize("name", sorted(TABLES))
def test_no_cell_is_cut_or_folded(name: str, width: int, terminal: bool) -> None:
    make, whole, wide_only = TABLES[name]
    for wide in (False, True):
        lines = printed(make(wide), width, terminal)
        text = "\n".join(lines)
        assert "…" not in text
        for cell in whole + (wide_only if wide else []):
            assert any(cell in line for line in lines), f"{cell!r} cut or folded in:\n{text}"
        # One line per row: the header, then one for each row the object has.
        rows = 2 if name == "ingress" else 1
        assert len(lines) == 1 + rows, text
        assert all(line == line.rstrip() for line in lines), "trailing blanks wrap a terminal"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_long_columns_only_in_wide(name: str) -> None:
    make, _, wide_only = TABLES[name]
    default = "\n".join(printed(make(False), 200, True))
    wide = "\n".join(printed(make(True), 200, True))
    for cell in wide_only:
        assert cell not in default
        assert cell in wide


def test_the_demos_instances_fit_80_columns() -> None:
    """The issue's case: `ozy demo` on a host named vm, read at 80 columns."""
    instances = [{**INSTANCE, "name": f"simple-webapp-{i}", "node": "vm"} for i in range(3)]
    lines = printed(instances_table(instances), 80, True)
    assert max(len(line) for line in lines) <= 80
    assert "10.213.0.15" in lines[1]


def test_markup_in_free_text_is_shown_as_written() -> None:
    instance = {**INSTANCE, "reason": "exec check said [error] no such file"}
    lines = printed(instances_table([instance], True), 200, False)
    assert "[error] no such file" in lines[1]
