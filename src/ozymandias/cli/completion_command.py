"""`ozy completion bash|zsh|fish`: the script that makes the shell complete `ozy`'s words.

The script calls `ozy` back with `_OZY_COMPLETE` set and the words typed so
far; `ozy` answers with the candidates, from its own command tree, and exits
(typer's completion protocol, see `main.main`).
"""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from typer._completion_classes import completion_init
from typer._completion_shared import get_completion_script

PROG_NAME = "ozy"
COMPLETE_VAR = "_OZY_COMPLETE"


class Shell(enum.StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(
    shell: Annotated[Shell, typer.Argument(help="The shell to complete in.")],
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Load it in the running shell, or save it where the shell reads it at start:
    bash: `source <(ozy completion bash)`, or save it as
    ~/.local/share/bash-completion/completions/ozy;
    zsh: save it as `_ozy` in a directory of $fpath;
    fish: save it as ~/.config/fish/completions/ozy.fish.

    Example: ozy completion bash > ~/.local/share/bash-completion/completions/ozy
    """
    script = get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)
    typer.echo(script)


def enable_completion() -> None:
    """Let `ozy` answer its completion scripts: typer registers its shells' protocols only
    for an app that adds `--install-completion`, which `ozy completion` replaces."""
    completion_init()


def typer_instruction(instruction: str) -> str:
    """`_OZY_COMPLETE`'s value as typer reads it (`complete_bash`), also when given as click
    documents it (`bash_complete`, `bash_source`).

    Only bash's: its words come in COMP_WORDS and COMP_CWORD either way,
    where typer's zsh and fish protocols read other variables than click's.
    """
    shell, _, action = instruction.partition("_")
    if shell == Shell.bash and action in ("complete", "source"):
        return f"{action}_{shell}"
    return instruction
