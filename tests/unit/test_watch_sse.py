"""How a watch stream frames its events (watch/sse.py), read back as a client reads them."""

from __future__ import annotations

from ozymandias.watch import sse
from ozymandias.watch.changes import Change, ChangeType
from tests.support.sse import parse_messages


def test_a_change_is_one_message_with_its_revision_as_id_and_one_line_of_json() -> None:
    obj = {"name": "web-0", "reason": "line one\nline two"}  # a newline in a value stays escaped
    raw = sse.change_message("instance", 1234, Change(ChangeType.MODIFIED, "web-0", obj))
    text = raw.decode()
    assert text.startswith("id: 1234\nevent: MODIFIED\ndata: {")
    assert text.endswith("}\n\n") and text.count("\n") == 4
    [message] = parse_messages(text)
    assert message.id == 1234
    assert message.event == "MODIFIED"
    assert message.data == {
        "type": "MODIFIED",
        "kind": "instance",
        "name": "web-0",
        "revision": 1234,
        "object": obj,
    }


def test_bookmark_relist_and_keepalive() -> None:
    text = (sse.relist("job", 7) + sse.KEEPALIVE + sse.bookmark("job", 7)).decode()
    relist, bookmark = parse_messages(text)
    assert (relist.event, relist.id, relist.data["object"]) == ("RELIST", 7, None)
    assert (bookmark.event, bookmark.data["initial"], bookmark.data["kind"]) == (
        "BOOKMARK",
        True,
        "job",
    )
    assert sse.KEEPALIVE.startswith(b":")  # a comment: clients skip it


def test_the_client_reader_takes_messages_split_anywhere() -> None:
    change = Change(ChangeType.ADDED, "n1", {"name": "n1"})
    wire = (
        sse.change_message("node", 5, change) + sse.KEEPALIVE + sse.bookmark("node", 5)
    ).decode()
    for cut in range(1, len(wire)):
        reader = sse.Reader()
        messages = reader.feed(wire[:cut]) + reader.feed(wire[cut:])
        assert [(m[0], m[1]) for m in messages] == [(5, "ADDED"), (5, "BOOKMARK")], cut
        assert messages[0][2]["object"] == {"name": "n1"}
