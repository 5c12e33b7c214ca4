"""What a kubectl request asks for in its `Accept` header (pure).

kubectl get sends `application/json;as=Table;v=v1;g=meta.k8s.io, ...,
application/json`: the first media type the server can produce wins, as the
apiserver's negotiation does. We produce a meta.k8s.io/v1 Table and plain
JSON; a Table of v1beta1 is answered as v1 (the same shape), and anything
else (`as=PartialObjectMetadataList`, protobuf) falls back to JSON when the
client also takes JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ozymandias.kube.openapi_v2 import PROTOBUF_ACCEPTED

PRODUCED = ("application/json", "application/json;as=Table;v=v1;g=meta.k8s.io")


class Shape(enum.Enum):
    OBJECT = "object"  # the object (or list) itself, as JSON
    TABLE = "table"  # a meta.k8s.io/v1 Table of it


class IncludeObject(enum.StrEnum):
    """What each Table row carries in `object` (the `includeObject` query parameter)."""

    NONE = "None"
    METADATA = "Metadata"
    OBJECT = "Object"


class NotAcceptable(ValueError):
    """No media type of the Accept header is one this server produces."""


@dataclass(frozen=True)
class MediaType:
    type: str
    params: dict[str, str]


def parse_accept(header: str) -> list[MediaType]:
    """The media types of an Accept header, in order (q-values are not used by kubectl)."""
    found: list[MediaType] = []
    for part in header.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append(MediaType(pieces[0].lower(), params))
    return found


def response_shape(header: str | None) -> Shape:
    """The shape to answer a GET in; NotAcceptable if it is none we produce."""
    if not header:
        return Shape.OBJECT
    for media in parse_accept(header):
        if media.type not in ("application/json", "application/*", "*/*"):
            continue
        wanted = media.params.get("as")
        if wanted is None:
            return Shape.OBJECT
        if wanted == "Table" and media.params.get("g") == "meta.k8s.io":
            return Shape.TABLE
    raise NotAcceptable(f"none of the media types in {header!r} is served here")


def include_object(value: str | None) -> IncludeObject:
    """`includeObject`: Metadata unless told, as the apiserver."""
    if value is None or value == "":
        return IncludeObject.METADATA
    try:
        return IncludeObject(value)
    except ValueError:
        raise ValueError(
            f"includeObject must be one of None, Metadata, Object, not {value!r}"
        ) from None


def wants_protobuf(header: str | None) -> bool:
    """Whether an /openapi/v2 request takes the protobuf document (kubectl's Accept)."""
    return header is not None and any(
        media.type in PROTOBUF_ACCEPTED for media in parse_accept(header)
    )


def is_watch(value: str | None) -> bool:
    """`watch=1`, `watch=true`: the list endpoint answers a stream of changes."""
    return value is not None and value.lower() in ("1", "true", "yes")
