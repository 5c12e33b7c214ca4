"""Watch streams (`?watch=true`) against a live node: real etcd, podman and HTTP.

A stream follows an instance through a kill and its restart in order; a
client that reconnects with `Last-Event-ID` gets every change it missed,
or RELIST when the node no longer remembers that far back; the streams
open at once are bounded; a node stops promptly with streams open.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.cli_process import RunningOzy
from tests.support.jobs import web_job
from tests.support.machine import run
from tests.support.nodes import NodeFactory, NodeProcess
from tests.support.podman import app_container
from tests.support.sse import EventStream, Message, initial_objects


def app_states(messages: list[Message], instance: str) -> list[str]:
    """The app container's state in each event of `instance`, repeats folded."""
    states: list[str] = []
    for message in messages:
        if message.data["name"] != instance or message.data["object"] is None:
            continue
        containers = message.data["object"]["containers"]
        state = next((c["state"] for c in containers if c["name"] == "app"), "none")
        if not states or states[-1] != state:
            states.append(state)
    return states


def bookmarked(messages: list[Message]) -> bool:
    return any(m.event == "BOOKMARK" for m in messages)


def test_a_stream_sees_an_instance_run_exit_and_run_again_after_a_kill(
    make_node: NodeFactory,
) -> None:
    node = make_node("watch-kill")
    assert node.apply(web_job("watched", 1)).status_code == 201
    node.wait_running("watched", 1)
    stream = EventStream(node.api, "/v1/instances", {"job": "watched"}, verify=node.verify)
    try:
        first = stream.wait_for(bookmarked, "the initial state")
        assert stream.status == 200
        assert stream.headers is not None
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert list(initial_objects(first)) == ["watched-0"]
        assert app_states(first, "watched-0") == ["running"]

        run("podman", "kill", app_container("watched", 0))
        messages = stream.wait_for(
            lambda ms: app_states(ms, "watched-0") == ["running", "exited", "running"],
            "running, exited, then running again",
        )
        ids = [m.id for m in messages]
        assert ids == sorted(ids)  # revisions only go forward
        last = messages[-1].data["object"]
        assert last["restarts"] == 1
        assert all(m.data["kind"] == "instance" for m in messages)
    finally:
        stream.close()


def test_a_reconnect_with_last_event_id_misses_nothing(make_node: NodeFactory) -> None:
    node = make_node("watch-resume")
    assert node.apply(web_job("before", 1)).status_code == 201
    node.wait_running("before", 1)
    stream = EventStream(node.api, "/v1/instances", verify=node.verify)
    try:
        held = stream.wait_for(bookmarked, "the initial state")
    finally:
        stream.close()
    state = initial_objects(held)
    last_id = held[-1].id

    # While nobody listens: a new job, one of its instances gone, the first job deleted.
    assert node.apply(web_job("after", 2)).status_code == 201
    node.wait_running("after", 2)
    assert node.request("POST", "/v1/jobs/after/scale", json={"numInstances": 1}).is_success
    assert node.request("DELETE", "/v1/jobs/before").is_success
    expected = {item["name"]: item for item in node.request("GET", "/v1/instances").json()}

    def caught_up(messages: list[Message]) -> bool:
        return apply_changes(state, messages) == expected

    resumed = EventStream(node.api, "/v1/instances", last_event_id=last_id, verify=node.verify)
    try:
        # Nothing listed again: only the changes, which bring the old state to the new one.
        messages = resumed.wait_for(caught_up, "the changes made while away")
        assert not any(m.event in ("BOOKMARK", "RELIST") for m in messages)
        assert all(m.id > last_id for m in messages)
        kinds = {(m.event, m.data["name"]) for m in messages}
        assert ("DELETED", "before-0") in kinds
        assert ("DELETED", "after-1") in kinds
        assert ("ADDED", "after-0") in kinds
    finally:
        resumed.close()


def apply_changes(state: dict[str, Any], messages: list[Message]) -> dict[str, Any]:
    result = dict(state)
    for message in messages:
        name = message.data["name"]
        if message.event in ("ADDED", "MODIFIED"):
            result[name] = message.data["object"]
        elif message.event == "DELETED":
            result.pop(name, None)
    return result


def test_a_too_old_last_event_id_gets_relist_then_the_whole_state(
    make_node: NodeFactory,
) -> None:
    node = make_node("watch-relist")
    stream = EventStream(node.api, "/v1/nodes", last_event_id=1, verify=node.verify)
    try:
        messages = stream.wait_for(bookmarked, "the whole state after RELIST")
        assert messages[0].event == "RELIST"
        assert [m.event for m in messages[1:]] == ["ADDED", "BOOKMARK"]
        assert messages[1].data["object"]["name"] == "watch-relist"
        assert messages[1].data["object"]["status"] == "ready"
    finally:
        stream.close()
    bad = node.request("GET", "/v1/nodes", params={"watch": "true"}, headers={"Last-Event-ID": "x"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"


def test_events_and_node_cordons_are_watched(make_node: NodeFactory) -> None:
    node = make_node("watch-events")
    events = EventStream(node.api, "/v1/events", {"limit": "1"}, verify=node.verify)
    nodes = EventStream(node.api, "/v1/nodes", verify=node.verify)
    try:
        # The newest event only, as the list with limit=1 shows it.
        first = events.wait_for(bookmarked, "the initial events")
        assert len(initial_objects(first)) == 1
        nodes.wait_for(bookmarked, "the initial nodes")
        assert node.request("POST", "/v1/nodes/watch-events/cordon").is_success
        nodes.wait_for(
            lambda ms: any(
                m.event == "MODIFIED" and m.data["object"]["status"] == "cordoned" for m in ms
            ),
            "the node shown cordoned",
        )
        assert node.request("POST", "/v1/nodes/watch-events/uncordon").is_success
        nodes.wait_for(
            lambda ms: ms[-1].event == "MODIFIED" and ms[-1].data["object"]["status"] == "ready",
            "the node shown ready again",
        )
        assert node.apply(web_job("noted", 1)).status_code == 201
        messages = events.wait_for(
            lambda ms: any(m.event == "ADDED" and m.data["object"]["job"] == "noted" for m in ms),
            "the job's first event",
        )
        listed = node.request("GET", "/v1/events", params={"job": "noted"}).json()
        streamed = [m.data["object"] for m in messages if m.data["object"]]
        assert listed[0] in streamed  # the same object as the list shows
    finally:
        events.close()
        nodes.close()


def test_watch_streams_are_bounded_and_end_when_the_node_stops(make_node: NodeFactory) -> None:
    node = make_node("watch-bound", extra_args=("--api-max-watches", "2"))
    streams = [EventStream(node.api, "/v1/jobs", verify=node.verify) for _ in range(2)]
    try:
        for stream in streams:
            stream.wait_for(bookmarked, "the initial jobs")
        refused = node.request("GET", "/v1/jobs", params={"watch": "true"})
        assert refused.status_code == 429
        assert refused.json()["limit"] == "api-max-watches"
        node.stop()
        assert node.process is not None and node.process.returncode == 0  # not killed
        for stream in streams:
            assert stream.ended.wait(10)
    finally:
        for stream in streams:
            stream.close()


def starts_with(lines: list[str], *words: str) -> bool:
    return any(line.split()[: len(words)] == list(words) for line in lines if line.strip())


def test_the_cli_prints_the_table_then_a_row_per_change_until_ctrl_c(
    make_node: NodeFactory,
) -> None:
    node = make_node("watch-cli")
    table = RunningOzy(node.api, "get", "instances", "-w")
    events = RunningOzy(node.api, "get", "jobs", "-w", "-o", "json")
    try:
        table.wait_for(lambda lines: "no instances" in lines, "empty table")
        events.wait_for(lambda lines: len(lines) >= 1, "the bookmark")
        assert node.apply(web_job("cliw", 1)).status_code == 201
        table.wait_for(lambda ls: starts_with(ls, "ADDED", "cliw-0"), "an ADDED row")
        table.wait_for(
            lambda ls: any(line.split()[:2] == ["MODIFIED", "cliw-0"] and "running" in line
                           for line in ls),
            "a row of the instance running",
        )  # fmt: skip
        assert node.request("DELETE", "/v1/jobs/cliw").is_success
        table.wait_for(lambda ls: starts_with(ls, "DELETED", "cliw-0"), "a DELETED row")
        assert table.interrupt() == 0

        lines = events.wait_for(
            lambda ls: any('"DELETED"' in line for line in ls), "the job's deletion as JSON"
        )
        parsed = [json.loads(line) for line in lines]  # one event per line
        assert parsed[0]["type"] == "BOOKMARK"
        assert [event["type"] for event in parsed][-1] == "DELETED"
        assert {event["name"] for event in parsed[1:]} == {"cliw"}
        assert events.interrupt() == 0
    finally:
        table.kill()
        events.kill()


def test_the_cli_reconnects_when_its_node_restarts_and_lists_again(
    make_node: NodeFactory,
) -> None:
    node = make_node("watch-back")
    watching = RunningOzy(node.api, "get", "nodes", "-w")
    try:
        watching.wait_for(lambda ls: starts_with(ls, "watch-back"), "the node's row")
        node.stop()
        node.start()

        # The restarted node does not hold the old changes: RELIST, and the table again.
        def second_table(lines: list[str]) -> bool:
            headers = [i for i, line in enumerate(lines) if line.startswith("NAME")]
            return len(headers) == 2 and starts_with(lines[headers[1] + 1 :], "watch-back")

        watching.wait_for(second_table, "a second table, with the node")
        assert any("reconnecting" in line for line in watching.stderr), watching.stderr
        assert any("listing again" in line for line in watching.stderr), watching.stderr
        assert watching.interrupt() == 0
    finally:
        watching.kill()


def test_an_id_from_one_node_resumes_on_another(make_node: NodeFactory) -> None:
    first = make_node("watch-one")
    second = make_node("watch-two")
    # The second node follows instances from here on (its first watcher starts that).
    warm = EventStream(second.api, "/v1/instances", verify=second.verify)
    try:
        warm.wait_for(bookmarked, "the second node's list")
    finally:
        warm.close()
    stream = EventStream(first.api, "/v1/instances", verify=first.verify)
    try:
        held = stream.wait_for(bookmarked, "the first node's list")
    finally:
        stream.close()
    assert node_count(first) == 2
    assert first.apply(web_job("roams", 2)).status_code == 201
    first.wait_running("roams", 2)
    expected = {item["name"]: item for item in second.request("GET", "/v1/instances").json()}

    resumed = EventStream(
        second.api, "/v1/instances", last_event_id=held[-1].id, verify=second.verify
    )
    try:
        messages = resumed.wait_for(
            lambda ms: apply_changes(initial_objects(held), ms) == expected,
            "the changes, from the other node",
        )
        assert not any(m.event == "RELIST" for m in messages)
    finally:
        resumed.close()


def node_count(node: NodeProcess) -> int:
    return len(node.request("GET", "/v1/nodes").json())
