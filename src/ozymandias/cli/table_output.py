"""How a table reaches the terminal: at its natural width, as kubectl's do.

Rich fits a table to the console: at 80 columns it squeezes cells to
"10.213.0…" and folds long text five characters wide, and through a pipe
(80 columns too) a script gets cut cells. A cell is something the user
copies (a name, an address) or greps, so none is ever cut: each row is one
line as wide as its cells need, and a terminal narrower than that wraps the
line, as it does kubectl's. Long free text stays out of the default columns
(`-o wide` and `describe` have it), so the default rows fit a terminal.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table


class NaturalWidth:
    """A table rendered as wide as its widest row needs, whatever the console's width."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # Measured unbounded: its cells' full widths, not what fits the console.
        natural = Measurement.get(console, options.update_width(1_000_000), self.table).maximum
        lines = console.render_lines(
            self.table, options.update(width=natural, no_wrap=True), pad=False
        )
        for line in lines:
            yield from without_trailing_blanks(line)
            yield Segment.line()


def without_trailing_blanks(line: list[Segment]) -> list[Segment]:
    """The line without the padding after its last cell: a header padded to a long last
    column's width would otherwise wrap into a blank line on a narrow terminal."""
    kept = list(line)
    while kept and not kept[-1].control and not kept[-1].text.strip():
        kept.pop()
    if kept and not kept[-1].control:
        last = kept[-1]
        kept[-1] = Segment(last.text.rstrip(), last.style)
    return kept


def print_table(console: Console, table: Table | str) -> None:
    """Print `table` unwrapped and uncropped (a line wider than the terminal wraps there); a
    string is the line said in its place ("none")."""
    if isinstance(table, str):
        console.print(table)
    else:
        console.print(NaturalWidth(table), crop=False)
