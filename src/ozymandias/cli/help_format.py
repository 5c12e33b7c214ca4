"""How `--help` names what options and arguments take: by name, as kubectl and nomad users read it.

typer tags every option with its Python type (`--since <str>`, `--yes <bool>`,
`--limit <int range>`), writes required arguments in braces (`{JOB} [VOLUME]`)
and ranges as `[x>=1]`. This names each value after its option (`--since
SINCE`, `JOB`), gives a flag none, writes usage lines as click does (`JOB
[VOLUME]`) and says a range in the option's help ("at least 1"), across the
whole command tree, before it runs.
"""

from __future__ import annotations

import enum
from functools import partial
from typing import Any


def name_the_values(command: Any) -> None:
    """Name the values of every parameter of `command` and its subcommands that has no
    metavar, write their arguments in usage lines as click does, and their ranges in words."""
    for param in command.params:
        _say_the_range(param)
        if param.param_type_name == "argument":
            # typer writes a required argument `{JOB}` in the usage line: write it `JOB`.
            param.get_usage_pieces = partial(_usage_pieces, param)
            # Its row already shows its name; typer would add its type beside it.
            param.display_type_rich = _no_type
        choices = _choices(param)
        if param.metavar is not None:
            continue
        if choices:
            param.metavar = choices
        elif param.param_type_name == "argument":
            param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
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


def range_phrase(low: float | None, high: float | None) -> str:
    """How the help says a number's range: "at least 1", "1 to 100"; "" where it goes
    without saying (no bounds, or only a floor of 0 for a count or a duration)."""
    if high is None:
        return f"at least {low}" if low not in (None, 0) else ""
    if low is None:
        return f"at most {high}"
    return f"{low} to {high}"


def with_range(help_text: str, phrase: str) -> str:
    """`help_text` with `phrase` in parentheses at its end, inside its last full stop."""
    if not phrase:
        return help_text
    text = help_text.rstrip()
    if text.endswith("."):
        return f"{text[:-1]} ({phrase})."
    return f"{text} ({phrase})".lstrip()


def usage_piece(name: str, *, required: bool, many: bool) -> str:
    """An argument in a usage line, as click and kubectl write it: `JOB`, `[VOLUME]`, `FILE...`."""
    piece = name if required else f"[{name}]"
    return piece + ("..." if many and not name.endswith("...") else "")


def _usage_pieces(param: Any, ctx: Any) -> list[str]:
    """An argument's `get_usage_pieces` (bound to it with partial): see `usage_piece`."""
    name = param.metavar if param.metavar is not None else param.name.upper()
    return [usage_piece(name, required=param.required, many=param.nargs != 1)]


def _say_the_range(param: Any) -> None:
    """Move a number's range from typer's `[x>=1]` tag into its help, in words."""
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is None and high is None:
        return
    param.help = with_range(param.help or "", range_phrase(low, high))
    param._get_number_range_help_str = _no_type


def _no_type(ctx: Any = None) -> None:
    return None


def _choices(param: Any) -> str:
    """`read|deploy|admin` for an option of an enum: the choices say more than a name."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "|".join(str(member.value) for member in annotation)
    return ""
