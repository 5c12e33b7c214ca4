"""What `ozy get … -w` prints for each event of a stream (cli/watch_view.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ozymandias.cli.watch_view import Listing, Note, Output, Row, WatchView

A = {"name": "a", "labels": {"tier": "web"}}
B = {"name": "b", "labels": {}}
A2 = {"name": "a", "labels": {"tier": "web"}, "state": "exited"}


def data(event: str, item: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    return event, {"type": event, "object": item}


def web_only(item: dict[str, Any]) -> bool:
    return bool(item["labels"].get("tier") == "web")


def everything(_: dict[str, Any]) -> bool:
    return True


@pytest.mark.parametrize(
    ("events", "keep", "printed"),
    [
        # The list, then a row per change.
        (
            [data("ADDED", A), data("ADDED", B), data("BOOKMARK"), data("MODIFIED", A2)],
            everything,
            [Listing([A, B]), Row("MODIFIED", A2)],
        ),
        ([data("BOOKMARK")], everything, [Listing([])]),  # nothing yet: the empty line
        # -l: the list and the rows keep only what it selects.
        (
            [data("ADDED", A), data("ADDED", B), data("BOOKMARK"), data("DELETED", B)],
            web_only,
            [Listing([A])],
        ),
        # A RELIST starts over: a note, then the fresh list.
        (
            [data("BOOKMARK"), data("RELIST"), data("ADDED", A2), data("BOOKMARK")],
            everything,
            [
                Listing([]),
                Note("the node no longer holds the changes since the last one seen: listing again"),
                Listing([A2]),
            ],
        ),
    ],
)
def test_what_a_watch_prints(
    events: list[tuple[str, dict[str, Any]]], keep: Any, printed: list[Output]
) -> None:
    view = WatchView(keep)
    assert [shown for event, item in events for shown in view.take(event, item)] == printed


def test_a_resumed_watch_prints_rows_only() -> None:
    view = WatchView(everything)
    view.resuming()
    assert view.take(*data("ADDED", A)) == [Row("ADDED", A)]
    assert view.take(*data("DELETED", A)) == [Row("DELETED", A)]


def test_deletions_can_be_left_out() -> None:
    view = WatchView(everything, show_deleted=False)
    view.take(*data("BOOKMARK"))
    assert view.take(*data("DELETED", A)) == []
    assert view.take(*data("ADDED", B)) == [Row("ADDED", B)]
