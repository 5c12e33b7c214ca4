"""Find a protobuf file descriptor compiled into a Go binary such as kubectl.

Go's protobuf code keeps each .proto's FileDescriptorProto inside the binary:
raw in newer builds (kubectl 1.32), gzipped in older ones (kubectl 1.20). We
compare our own message table against what the real client decodes with.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

_GZIP_MAGIC = b"\x1f\x8b\x08"
# Fields 1..14 of FileDescriptorProto (name, package, dependency, ..., edition).
_LAST_FILE_FIELD = 14


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _message_end(data: bytes, start: int) -> int:
    """Where a FileDescriptorProto starting at `start` ends: at the first bytes
    that cannot be one of its fields (the descriptor's length is not stored)."""
    at = start
    while at < len(data):
        tag, after_tag = _varint(data, at)
        number, wire = tag >> 3, tag & 7
        if not 1 <= number <= _LAST_FILE_FIELD:
            return at
        if wire == 2:
            length, body = _varint(data, after_tag)
            if body + length > len(data):
                return at
            at = body + length
        elif wire == 0:
            at = _varint(data, after_tag)[1]
        else:
            return at
    return at


def _parse(blob: bytes, package: str) -> descriptor_pb2.FileDescriptorProto | None:
    try:
        proto = descriptor_pb2.FileDescriptorProto.FromString(blob)
    except DecodeError:
        return None
    return proto if proto.package == package and proto.message_type else None


def find(binary: Path, file_name: str, package: str) -> descriptor_pb2.FileDescriptorProto | None:
    """The descriptor of `file_name` (in `package`) inside `binary`, or None."""
    data = binary.read_bytes()
    name_field = b"\n" + bytes([len(file_name)]) + file_name.encode()
    start = data.find(name_field + b"\x12" + bytes([len(package)]) + package.encode())
    if start >= 0:
        return _parse(data[start : _message_end(data, start)], package)
    marker = package.encode()
    at = data.find(_GZIP_MAGIC)
    while at >= 0:
        inflater = zlib.decompressobj(wbits=31)
        try:
            blob = inflater.decompress(data[at : at + (1 << 20)])
        except zlib.error:
            blob = b""
        if marker in blob[:200]:
            found = _parse(blob, package)
            if found is not None:
                return found
        at = data.find(_GZIP_MAGIC, at + 1)
    return None
