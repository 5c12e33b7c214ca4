"""Decoding of the docker "multiplexed stream" podman uses for logs and exec output.

Without a TTY, each chunk of output is framed by an 8-byte header: the stream
(0 stdin, 1 stdout, 2 stderr), three zero bytes, and the payload length as a
big-endian uint32. With a TTY the bytes come raw. The framing is detected from
the first header-sized prefix of the stream.
"""

from __future__ import annotations

import struct

_HEADER = struct.Struct(">BxxxI")
_STREAMS = (0, 1, 2)


STDOUT = 1
STDERR = 2


class StreamDemuxer:
    """Turns the chunks of one response body into payload bytes, each tagged with its stream
    (`feed_frames`) or stdout and stderr merged (`feed`). Raw bytes count as stdout."""

    def __init__(self) -> None:
        self._buffer = b""
        self._framed: bool | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """Returns the payloads completed by this chunk (possibly none)."""
        return [payload for _, payload in self.feed_frames(chunk)]

    def feed_frames(self, chunk: bytes) -> list[tuple[int, bytes]]:
        """Returns the (stream, payload) pairs completed by this chunk (possibly none)."""
        self._buffer += chunk
        if self._framed is None:
            if len(self._buffer) < _HEADER.size:
                return []
            self._framed = self._buffer[0] in _STREAMS and self._buffer[1:4] == b"\0\0\0"
        if not self._framed:
            raw, self._buffer = self._buffer, b""
            return [(STDOUT, raw)] if raw else []
        frames = []
        while len(self._buffer) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append((stream, self._buffer[_HEADER.size : end]))
            self._buffer = self._buffer[end:]
        return frames

    def flush(self) -> bytes:
        """What is left at the end of the body: a short raw stream, or a truncated frame."""
        return self.flush_frame()[1]

    def flush_frame(self) -> tuple[int, bytes]:
        """`flush`, with the stream the rest belongs to."""
        rest, self._buffer = self._buffer, b""
        if not self._framed:  # raw, or too short to tell
            return STDOUT, rest
        return (rest[0] if rest else STDOUT), rest[_HEADER.size :]
