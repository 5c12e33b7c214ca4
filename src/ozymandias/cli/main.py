"""`ozy`: the command line for Ozymandias (commands.py composes its commands).

`ozy node run` starts without the rest of the command line (daemon_entry.py): a node
daemon runs for months, and every command module it imported would stay in its memory.
Shell completion always goes through every command, as `ozy --help` does.
"""

from __future__ import annotations

import os
import sys

from ozymandias.cli.completion_command import COMPLETE_VAR


def main() -> None:
    """The `ozy` command (`python -m ozymandias.cli.main` too)."""
    if sys.argv[1:3] == ["node", "run"] and COMPLETE_VAR not in os.environ:
        from ozymandias.cli.daemon_entry import run_node

        run_node(sys.argv[3:])
        return
    from ozymandias.cli.commands import main as ozy

    ozy()


if __name__ == "__main__":
    main()
