"""A test's reader of a watch stream: server-sent events, read on a thread of their own."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.auth import bearer


@dataclass(frozen=True)
class Message:
    id: int
    event: str
    data: dict[str, Any]


def parse_messages(text: str) -> list[Message]:
    """The complete messages in `text` (comments, such as keepalives, left out)."""
    messages = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            messages.append(Message(int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return messages


class EventStream:
    """GET `path` with watch=true and collect its messages until `close`."""

    def __init__(
        self,
        api: str,
        path: str,
        params: dict[str, str] | None = None,
        last_event_id: int | None = None,
        verify: Any = True,
    ) -> None:
        headers = bearer()
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.messages: list[Message] = []
        self.status = 0
        self.headers: httpx.Headers | None = None
        self.ended = threading.Event()
        self._buffer = ""
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._client = httpx.Client(base_url=api, verify=verify, timeout=httpx.Timeout(5, read=60))
        self._request = self._client.build_request(
            "GET", path, params={**(params or {}), "watch": "true"}, headers=headers
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            response = self._client.send(self._request, stream=True)
            try:
                self.status = response.status_code
                self.headers = response.headers
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                for text in response.iter_text():
                    with self._lock:
                        self._buffer += text
                        complete, _, self._buffer = self._buffer.rpartition("\n\n")
                        if complete:
                            self.messages += parse_messages(complete + "\n\n")
            finally:
                response.close()
        except (httpx.HTTPError, RuntimeError, OSError):
            pass  # closed by the test, or by the node
        finally:
            self.ended.set()

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def wait_for(
        self, condition: Callable[[list[Message]], bool], what: str, timeout: float = 60
    ) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.snapshot()
            if condition(messages):
                return messages
            if self.ended.is_set():
                raise AssertionError(f"the stream ended before {what}: {messages[-5:]}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.snapshot()[-5:]}")

    def close(self) -> None:
        """Hang up (a blocked read on another thread wakes only for a shutdown)."""
        if self._socket is not None:
            with contextlib.suppress(OSError):  # already gone
                self._socket.shutdown(socket.SHUT_RDWR)
        self._client.close()
        self._thread.join(timeout=10)


def initial_objects(messages: list[Message]) -> dict[str, dict[str, Any]]:
    """The objects a stream sent before its first bookmark, by name."""
    objects = {}
    for message in messages:
        if message.event == "BOOKMARK":
            break
        objects[message.data["name"]] = message.data["object"]
    return objects
