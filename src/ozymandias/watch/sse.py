"""Server-sent events as the watch streams frame them (pure).

Each message names the change's etcd revision as its `id:` (sent back as
`Last-Event-ID` to resume), its type as `event:`, and carries one line of
JSON: `{"type", "kind", "name", "revision", "object"}`.
"""

from __future__ import annotations

import json
from typing import Any

from ozymandias.watch.changes import Change

KEEPALIVE = b": keepalive\n\n"
BOOKMARK = "BOOKMARK"
RELIST = "RELIST"


def message(kind: str, revision: int, type_: str, name: str, obj: Any, **extra: Any) -> bytes:
    """One event; `extra` fields join the data (a bookmark's `initial`)."""
    data = {"type": type_, "kind": kind, "name": name, "revision": revision, "object": obj}
    data.update(extra)
    # No indent: JSON without one never holds a newline, so the data is one line.
    line = json.dumps(data, separators=(",", ":"))
    return f"id: {revision}\nevent: {type_}\ndata: {line}\n\n".encode()


def change_message(kind: str, revision: int, change: Change) -> bytes:
    return message(kind, revision, change.type.value, change.name, change.object)


def bookmark(kind: str, revision: int) -> bytes:
    """The end of the initial state: what follows are changes."""
    return message(kind, revision, BOOKMARK, "", None, initial=True)


def relist(kind: str, revision: int) -> bytes:
    """The revision asked for is too old: drop what you hold, the full state follows."""
    return message(kind, revision, RELIST, "", None)


class Reader:
    """A client's side: text as it arrives in, whole messages out (comments skipped)."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[tuple[int, str, dict[str, Any]]]:
        """The messages `text` completes, each as (id, event, data)."""
        self._pending += text.replace("\r\n", "\n")
        complete, _, self._pending = self._pending.rpartition("\n\n")
        messages = []
        for block in complete.split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in block.split("\n") if ": " in line and line[0] != ":"
            )
            if "data" in fields and "id" in fields:
                messages.append(
                    (int(fields["id"]), fields.get("event", ""), json.loads(fields["data"]))
                )
        return messages
