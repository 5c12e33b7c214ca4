"""Reading a write's body: a JSON object, or a patch of one of the three types kubectl sends.

The body's size is bounded before it is read (the app's request limits); a
body nested deeper than Python's parser goes is a 400 here, not a crash. The
patch engines are kube/patches.py's, chosen by the content type.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patches import PATCH_TYPES, apply_patch, patch_type
from ozymandias.kube.status import bad_request, unsupported_media_type

__all__ = ["PATCH_TYPES", "Patch", "patched", "read_json", "read_object", "read_patch"]


def read_json(body: bytes) -> Any:
    """The body as JSON; a BadRequest Status if it is not."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise bad_request(f"the body of the request is not valid JSON: {error}") from None


def read_object(body: bytes) -> dict[str, Any]:
    """The body as one JSON object (a Deployment, a Scale, DeleteOptions)."""
    data = read_json(body)
    if not isinstance(data, dict):
        raise bad_request("the body of the request must be a JSON object")
    return data


class Patch(NamedTuple):
    """A PATCH's body, read as JSON, and its patch type."""

    media: str
    body: Any


def read_patch(content_type: str | None, body: bytes) -> Patch:
    """The patch a PATCH sends, checked before any object is read: anything but the three
    patch types kubectl sends (server-side apply's `application/apply-patch+yaml`
    included) is a 415 Status, a body that is not JSON a 400."""
    media = patch_type(content_type or "")
    if media is None:
        raise unsupported_media_type(PATCH_TYPES)
    return Patch(media, read_json(body))


def patched(kind: str, current: dict[str, Any], patch: Patch) -> dict[str, Any]:
    """`current` (an object of `kind`) with `patch` applied; a 400 if it does not apply."""
    try:
        return apply_patch(patch.media, current, patch.body, kind)
    except PatchError as error:
        raise bad_request(f"the patch cannot be applied: {error.message}") from None
