"""The pure parts of `ozy exec` and `ozy restart INSTANCE`: the request's bounds, the
JSON-lines framing both ways, the demuxing of podman's streams, and which report is
about a restarted instance's new pod."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from ozymandias.api.instance_exec import ExecRequest, _lines
from ozymandias.cli.exec_command import _write
from ozymandias.cli.instance_restart import new_pod_report
from ozymandias.runtime.framing import StreamDemuxer
from ozymandias.runtime.models import ExecExit, ExecOutput


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"command": ["echo", "hi"]}, None),
        ({"command": ["x"] * 256, "timeout": 3600, "container": "app"}, None),
        ({"command": []}, "at least 1 item"),
        ({"command": ["x"] * 257}, "at most 256 items"),
        ({"command": ["x" * (16 * 1024 + 1)]}, "at most 16384 characters"),
        ({"command": ["x" * 16 * 1024] * 5}, "longer than 65536 characters in all"),
        ({"command": ["echo", "a\0b"]}, "NUL character"),
        ({"command": ["", "x"]}, "the program (the command's first word) is empty"),
        ({"command": ["true"], "timeout": 0}, "greater than 0"),
        ({"command": ["true"], "timeout": 3601}, "less than or equal to 3600"),
        ({"command": ["true"], "stdin": "x"}, "Extra inputs are not permitted"),
        ({"command": ["true"], "container": "c" * 64}, "at most 63 characters"),
    ],
)
def test_an_exec_request_is_bounded(body: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert ExecRequest.model_validate(body).command == body["command"]
        return
    with pytest.raises(ValidationError, match=error.replace("(", r"\(").replace(")", r"\)")):
        ExecRequest.model_validate(body)


class Frames:
    """A command's frames, then `end` raised if given; notes whether it was closed."""

    def __init__(self, frames: list[ExecOutput | ExecExit], end: Exception | None = None) -> None:
        self.frames = frames
        self.end = end
        self.closed = False

    async def run(self) -> AsyncIterator[ExecOutput | ExecExit]:
        try:
            for frame in self.frames:
                yield frame
            if self.end is not None:
                raise self.end
        finally:
            self.closed = True


async def lines_of(frames: Frames, *, take: int | None = None) -> list[dict[str, Any]]:
    stream = _lines(frames.run(), 5.0)
    got: list[dict[str, Any]] = []
    async for line in stream:
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        got.append(json.loads(line))
        if take is not None and len(got) == take:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    return got


@pytest.mark.parametrize(
    ("frames", "end", "expected"),
    [
        (
            [ExecOutput("stdout", b"hi\n"), ExecOutput("stderr", b"oops\n"), ExecExit(3)],
            None,
            [
                {"stream": "stdout", "data": "hi\n"},
                {"stream": "stderr", "data": "oops\n"},
                {"exitCode": 3},
            ],
        ),
        (
            [ExecOutput("stdout", b"tick\n")],
            TimeoutError("ran over"),
            [
                {"stream": "stdout", "data": "tick\n"},
                {
                    "error": "the command ran over its timeout of 5 s and was killed",
                    "timedOut": True,
                },
            ],
        ),
        (
            [],
            RuntimeError("podman went away"),
            [{"error": "the command could not run: podman went away", "timedOut": False}],
        ),
    ],
)
def test_exec_frames_become_json_lines_ending_with_the_outcome(
    frames: list[ExecOutput | ExecExit], end: Exception | None, expected: list[dict[str, Any]]
) -> None:
    source = Frames(frames, end)
    assert asyncio.run(lines_of(source)) == expected
    assert source.closed


def test_a_client_that_stops_reading_closes_the_command() -> None:
    source = Frames([ExecOutput("stdout", b"1\n"), ExecOutput("stdout", b"2\n"), ExecExit(0)])
    assert asyncio.run(lines_of(source, take=1)) == [{"stream": "stdout", "data": "1\n"}]
    assert source.closed  # the runtime kills a command whose stream is closed early


@pytest.mark.parametrize("data", [b"plain\n", "é€😀\n".encode(), b"\xff\xfe\x00bin", b"\xe2\x82"])
def test_any_bytes_come_out_of_the_cli_as_the_command_wrote_them(data: bytes) -> None:
    source = Frames([ExecOutput("stdout", data), ExecExit(0)])
    first = asyncio.run(lines_of(source))[0]
    written = io.BytesIO()
    _write(written, first)
    assert written.getvalue() == data


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def test_the_demuxer_keeps_stdout_and_stderr_apart_across_chunk_boundaries() -> None:
    body = frame(1, b"out") + frame(2, b"err") + frame(1, b"more")
    demuxer = StreamDemuxer()
    got = [item for i in range(0, len(body), 5) for item in demuxer.feed_frames(body[i : i + 5])]
    assert got == [(1, b"out"), (2, b"err"), (1, b"more")]
    assert demuxer.flush_frame() == (1, b"")


def test_a_cut_frame_is_flushed_with_its_stream_and_raw_bytes_count_as_stdout() -> None:
    framed = StreamDemuxer()
    assert framed.feed_frames(frame(2, b"whole")[:-2]) == []
    assert framed.flush_frame() == (2, b"who")
    raw = StreamDemuxer()
    assert raw.feed_frames(b"a tty's raw output") == [(1, b"a tty's raw output")]


def report(name: str, updated_at: float) -> dict[str, Any]:
    return {"name": name, "updatedAt": updated_at, "state": "running"}


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        ([report("web-0", 99.0), report("web-1", 200.0)], None),  # its old pod's last report
        ([report("web-0", 100.0)], report("web-0", 100.0)),
        ([report("web-1", 150.0), report("web-0", 150.0)], report("web-0", 150.0)),
        ([{"name": "web-0", "state": "pending"}], None),  # placed, not reported on yet
        ([], None),
    ],
)
def test_only_a_report_made_after_the_restart_is_about_the_new_pod(
    instances: list[dict[str, Any]], expected: dict[str, Any] | None
) -> None:
    assert new_pod_report(instances, "web-0", since=100.0) == expected
