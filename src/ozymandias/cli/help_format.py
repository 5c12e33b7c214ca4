"""How `--help` names what options and arguments take: by name, as argparse users read it.

typer tags every option with its Python type (`--since <str>`, `--yes <bool>`,
`--limit <int range>`) and writes arguments in braces (`{job} [volume]`).
This names each value after its option (`--since SINCE`, `JOB`) and gives a
flag none, across the whole command tree, before it runs.
"""

from __future__ import annotations

import enum
from typing import Any


def name_the_values(command: Any) -> None:
    """Set a metavar on every parameter of `command` and its subcommands that has none."""
    for param in command.params:
        choices = _choices(param)
        if param.metavar is not None:
            continue
        if choices:
            param.metavar = choices
        elif param.param_type_name == "argument":
            param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
            # Its row already shows that name; typer would add its type beside it.
            param.display_type_rich = _no_type
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            param.metavar = param.name.upper()
    # --help is made when help is shown, and kept: make it now, to show it as the flag it is.
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:
        help_option.metavar = ""
    for subcommand in getattr(command, "commands", {}).values():
        name_the_values(subcommand)


def _no_type(ctx: Any) -> None:
    return None


def _choices(param: Any) -> str:
    """`read|deploy|admin` for an option of an enum: the choices say more than a name."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation)
    return ""
