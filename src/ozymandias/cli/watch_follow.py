"""`ozy get … -w`: print a list, then a row per change, until Ctrl-C.

Reads the list endpoint's watch stream (`?watch=true`). When the stream
breaks or the node ends it (it stops), it reconnects with `Last-Event-ID`
(the last event's revision), so no change is lost, with a note on stderr;
it gives up after a few failed tries in a row. `-o json` prints each event
as one line of JSON (NDJSON), BOOKMARK and RELIST included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text

from ozymandias.cli.api_client import ApiClient, ApiError
from ozymandias.cli.app import err, fail, open_client, out
from ozymandias.cli.table_output import print_table
from ozymandias.cli.watch_view import Listing, Note, Output, Row, WatchView
from ozymandias.watch.sse import Reader

RECONNECTS = 5
_FIRST_DELAY_SECONDS = 0.5
_MAX_DELAY_SECONDS = 8.0
# The node sends a keepalive every 15 s: this long a silence is a dead connection.
_SILENCE_SECONDS = 45.0

TableOf = Callable[[list[dict[str, Any]], bool], Table]


def follow(
    api: str,
    path: str,
    output: str,
    table: TableOf,
    empty: str,
    params: dict[str, str] | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda _item: True,
    *,
    show_deleted: bool = True,
) -> None:
    """Watch `path` until Ctrl-C (exit 0) or the node cannot be reached again (exit 1)."""
    if output == "yaml":
        raise fail("-w prints one JSON event per line: use -o json, not -o yaml", code=2)
    view = WatchView(keep, show_deleted=show_deleted)

    def show(outputs: list[Output]) -> None:
        for shown in outputs:
            _print(shown, table, empty, output == "wide")

    client = open_client(api)
    try:
        _watch(client, path, {**(params or {}), "watch": "true"}, output, view, show)
    except KeyboardInterrupt:
        return
    finally:
        client.close()


def _watch(
    client: ApiClient,
    path: str,
    params: dict[str, str],
    output: str,
    view: WatchView,
    show: Callable[[list[Output]], None],
) -> None:
    last_id: int | None = None
    failures = 0
    while True:
        headers = {"Last-Event-ID": str(last_id)} if last_id is not None else None
        reader = Reader()
        try:
            for text in client.stream_text(path, params, headers, _SILENCE_SECONDS):
                for event_id, event, data in reader.feed(text):
                    failures = 0
                    last_id = event_id
                    if output == "json":
                        out.print(json.dumps(data), markup=False, highlight=False, soft_wrap=True)
                    else:
                        show(view.take(event, data))
            why = "the node ended the stream"
        except ApiError as error:
            if last_id is None:
                raise fail(str(error)) from None
            why = str(error)
        failures += 1
        if failures > RECONNECTS:
            raise fail(f"{why}; gave up after {RECONNECTS} tries to reconnect")
        delay = min(_FIRST_DELAY_SECONDS * 2 ** (failures - 1), _MAX_DELAY_SECONDS)
        err.print(
            f"[yellow]watch:[/] {why}; reconnecting in {delay:g}s, from revision {last_id}",
            highlight=False,
            soft_wrap=True,
        )
        time.sleep(delay)
        if last_id is not None:
            view.resuming()


def _print(shown: Output, table: TableOf, empty: str, wide: bool) -> None:
    if isinstance(shown, Note):
        err.print(f"[yellow]watch:[/] {shown.text}", highlight=False, soft_wrap=True)
    elif isinstance(shown, Listing):
        print_table(out, table(shown.items, wide) if shown.items else empty)
    elif isinstance(shown, Row):
        row = table([shown.item], wide)
        row.show_header = False
        marked = Table.grid(padding=(0, 2))
        marked.add_row(_marker(shown.change), row)
        print_table(out, marked)


def _marker(change: str) -> Text:
    style = {"ADDED": "green", "DELETED": "red"}.get(change, "cyan")
    return Text(change.ljust(8), style=style)
