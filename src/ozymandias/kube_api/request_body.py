"""Reading a write's body: a JSON object, or a patch of one of the three types kubectl sends.

The body's size is bounded before it is read (the app's request limits); a
body nested deeper than Python's parser goes is a 400 here, not a crash. The
patch engines are kube/patches.py's, chosen by the content type.
"""

from __future__ import annotations

import json
from typing import Any

from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patches import PATCH_TYPES, apply_patch, patch_type
from ozymandias.kube.status import bad_request, unsupported_media_type

__all__ = ["PATCH_TYPES", "patched", "read_json", "read_object"]


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


def patched(
    kind: str, current: dict[str, Any], content_type: str | None, body: bytes
) -> dict[str, Any]:
    """`current` (an object of `kind`) with the patch in `body` applied, by the patch type
    its content type names. Anything but the three patch types kubectl sends (server-side
    apply's `application/apply-patch+yaml` included) is a 415 Status."""
    media = patch_type(content_type or "")
    if media is None:
        raise unsupported_media_type(PATCH_TYPES)
    patch = read_json(body)
    try:
        return apply_patch(media, current, patch, kind)
    except PatchError as error:
        raise bad_request(f"the patch cannot be applied: {error.message}") from None
