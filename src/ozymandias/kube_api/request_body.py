"""Reading a write's body: a JSON object, or a patch of one of the three types kubectl sends.

The body's size is bounded before it is read (the app's request limits); a
body nested deeper than Python's parser goes is a 400 here, not a crash.
"""

from __future__ import annotations

import json
from typing import Any

from ozymandias.kube.json_patch import apply_json_patch
from ozymandias.kube.merge_patch import apply_merge_patch
from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patch_schemas import SCHEMAS
from ozymandias.kube.status import bad_request, unsupported_media_type
from ozymandias.kube.strategic_merge import apply_strategic_merge

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC)


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


def media_type(content_type: str | None) -> str:
    """`application/merge-patch+json; charset=utf-8` -> `application/merge-patch+json`."""
    return (content_type or "").split(";")[0].strip().lower()


def patched(kind: str, current: dict[str, Any], content_type: str | None, body: bytes) -> Any:
    """`current` with the patch in `body` applied, by the patch type its content type names.

    Anything but the three patch types kubectl sends (server-side apply's
    `application/apply-patch+yaml` included) is a 415 Status.
    """
    patch_type = media_type(content_type)
    if patch_type not in PATCH_TYPES:
        raise unsupported_media_type(PATCH_TYPES)
    patch = read_json(body)
    try:
        if patch_type == JSON_PATCH:
            return apply_json_patch(current, patch)
        if patch_type == MERGE:
            return apply_merge_patch(current, patch)
        return apply_strategic_merge(current, patch, SCHEMAS[kind])
    except PatchError as error:
        raise bad_request(f"the patch cannot be applied: {error.message}") from None
