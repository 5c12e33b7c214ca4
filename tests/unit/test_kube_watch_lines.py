"""A watch hub's changes as the Kubernetes watch's JSON lines (kube_api/watch.py's EventLines)."""

from __future__ import annotations

import json
from typing import Any

from ozymandias.kube_api.negotiation import IncludeObject
from ozymandias.kube_api.selection import select
from ozymandias.kube_api.watch import EventLines, WatchRequest
from ozymandias.watch.changes import Change, ChangeType


def pod(name: str, tier: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"tier": tier}},
        "spec": {"nodeName": "n1", "containers": [{"name": "app"}]},
        "status": {"phase": phase},
    }


class World:
    """What the mirrors say of each pod now (None: gone)."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any] | None] = {}

    def build(self, change: Change) -> dict[str, Any] | None:
        return self.pods.get(change.name)


def lines(sender: EventLines, changes: list[Change], revision: int) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sender.lines(changes, revision).splitlines()]


def change(kind: ChangeType, name: str) -> Change:
    return Change(kind, name, {})


def test_changes_become_events_at_their_revision_and_a_deletion_shows_the_last_object() -> None:
    world = World()
    sender = EventLines(world.build, WatchRequest(select(None, None, "Pod"), None, None, None))
    world.pods["web-0"] = pod("web-0", "web", "Pending")
    [added] = lines(sender, [change(ChangeType.ADDED, "web-0")], 10)
    assert added["type"] == "ADDED"
    assert added["object"]["metadata"]["resourceVersion"] == "10"
    world.pods["web-0"] = pod("web-0", "web", "Running")
    [modified] = lines(sender, [change(ChangeType.MODIFIED, "web-0")], 11)
    assert (modified["type"], modified["object"]["status"]["phase"]) == ("MODIFIED", "Running")
    world.pods["web-0"] = None
    [deleted] = lines(sender, [change(ChangeType.DELETED, "web-0")], 12)
    assert deleted["type"] == "DELETED"
    assert deleted["object"]["status"]["phase"] == "Running"  # as last sent
    assert deleted["object"]["metadata"]["resourceVersion"] == "12"


def test_a_selector_keeps_its_objects_and_one_that_stops_matching_is_deleted() -> None:
    world = World()
    selection = select("tier=web", "metadata.name!=web-9", "Pod")
    sender = EventLines(world.build, WatchRequest(selection, None, None, None))
    world.pods |= {"web-0": pod("web-0", "web"), "db-0": pod("db-0", "db")}
    world.pods["web-9"] = pod("web-9", "web")
    shown = lines(sender, [change(ChangeType.ADDED, n) for n in ("web-0", "db-0", "web-9")], 5)
    assert [event["object"]["metadata"]["name"] for event in shown] == ["web-0"]
    world.pods["web-0"] = pod("web-0", "db")
    [gone] = lines(sender, [change(ChangeType.MODIFIED, "web-0")], 6)
    assert gone["type"] == "DELETED"
    # Not sent before, so not deleted either.
    assert lines(sender, [change(ChangeType.MODIFIED, "db-0")], 7) == []


def test_a_table_watch_sends_a_table_of_one_row_per_event() -> None:
    world = World()
    world.pods["web-0"] = pod("web-0", "web")
    wanted = WatchRequest(select(None, None, "Pod"), None, None, IncludeObject.METADATA)
    [event] = lines(EventLines(world.build, wanted), [change(ChangeType.ADDED, "web-0")], 3)
    table = event["object"]
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [row["cells"][0] for row in table["rows"]] == ["web-0"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["metadata"]["resourceVersion"] == "3"
