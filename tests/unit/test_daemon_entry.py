"""`ozy node run` started on its own (cli/daemon_entry.py): the same help and errors as
through every command, without the rest of the CLI in the daemon's memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Rich lays help out to the terminal's width: the same width for both.
ENV = {**os.environ, "COLUMNS": "100", "TERM": "dumb"}


def ozy(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120
    )


def test_help_reads_as_through_every_command() -> None:
    alone = subprocess.run(
        [sys.executable, "-m", "ozymandias.cli.main", "node", "run", "--help"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    whole = ozy(
        "import sys; from ozymandias.cli.commands import main; "
        "sys.argv = ['ozy', 'node', 'run', '--help']; main()"
    )
    assert alone.returncode == whole.returncode == 0
    assert "Usage: ozy node run [OPTIONS]" in alone.stdout
    assert alone.stdout == whole.stdout


def test_a_bad_option_value_is_the_same_error_without_the_cli() -> None:
    # A refused --memory exits after run() imported what the daemon runs: the modules
    # loaded by then are the daemon's.
    probe = ozy(
        "import json, sys\n"
        "from ozymandias.cli.main import main\n"
        "sys.argv = ['ozy', 'node', 'run', '--name', 'n1', '--memory', '5Q']\n"
        "try:\n    main()\n"
        "except SystemExit as exit:\n"
        "    print(json.dumps({'code': exit.code, 'modules': sorted(sys.modules)}))\n"
    )
    outcome = json.loads(probe.stdout)
    assert outcome["code"] == 2
    assert probe.stderr == "error: '5Q' is not a size like 512M or 2G\n"
    modules = set(outcome["modules"])
    assert "ozymandias.node" in modules
    assert not {"rich", "pygments", "ozymandias.cli.app", "ozymandias.cli.commands"} & modules
