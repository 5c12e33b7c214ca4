"""A group whose unknown first word is a job's name: `ozy delete web` is `ozy delete job web`.

`ozy delete` has two commands, `job` and `volume`. `ozy delete JOB`, as the
README's tour and users type it, keeps working, while `ozy delete volume` is a
command of its own: with no volume named it asks for one instead of deleting a
job called `volume` (`ozy delete job volume` does that).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from typer.core import TyperGroup

DEFAULT_COMMAND = "job"


def route(args: list[str], commands: Collection[str], valued_options: Collection[str]) -> list[str]:
    """The arguments of `ozy delete ...` with a subcommand first: `web -y` → `job web -y`.

    The first word that is neither an option nor an option's value picks the
    subcommand: one of `commands` is moved first (`-y volume a/b` → `volume -y
    a/b`), any other word is a job's name. Without one (`--help`) nothing moves.
    """
    skip_value = False
    for index, arg in enumerate(args):
        if skip_value:
            skip_value = False
        elif arg.startswith("-"):
            skip_value = arg in valued_options  # `--api URL`, not `--api=URL`
        elif arg in commands:
            return [arg, *args[:index], *args[index + 1 :]]
        else:
            return [DEFAULT_COMMAND, *args]
    return args


class JobByDefaultGroup(TyperGroup):
    """A typer group whose unknown first word is a job's name, for the `job` command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        valued = {
            name
            for command in self.commands.values()
            for param in command.params
            if param.param_type_name == "option" and not getattr(param, "is_flag", False)
            for name in (*param.opts, *param.secondary_opts)
        }
        return super().parse_args(ctx, route(args, self.commands, valued))
