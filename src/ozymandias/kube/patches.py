"""A PATCH body applied by its content type: the one entry the kube API's writes call. Pure.

Kubernetes takes three patch types on the kinds we serve (server-side apply,
`application/apply-patch+yaml`, is not one of them: kubectl only sends it with
`--server-side`). The content type may carry parameters (`; charset=utf-8`).
"""

from __future__ import annotations

from ozymandias.kube.json_patch import apply_json_patch
from ozymandias.kube.json_values import Json
from ozymandias.kube.merge_patch import apply_merge_patch
from ozymandias.kube.patch_error import PatchError
from ozymandias.kube.patch_schemas import SCHEMAS
from ozymandias.kube.strategic_merge import apply_strategic_merge

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH)


def patch_type(content_type: str) -> str | None:
    """The patch type a Content-Type header names, or None if it names none we take."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media if media in PATCH_TYPES else None


def apply_patch(
    content_type: str, original: dict[str, Json], patch: Json, kind: str
) -> dict[str, Json]:
    """The object of kind `kind` after `patch`; PatchError if the patch does not apply.

    An unknown content type raises PatchError too; check it first with
    `patch_type` to answer 415 Unsupported Media Type, as Kubernetes does.
    """
    # The engines recurse as deep as the documents: a body within the size limit can
    # still nest past Python's stack, and that is the client's error, not the server's.
    try:
        return _apply(content_type, original, patch, kind)
    except RecursionError:
        raise PatchError("the patch or the object is nested too deeply") from None


def _apply(content_type: str, original: dict[str, Json], patch: Json, kind: str) -> dict[str, Json]:
    media = patch_type(content_type)
    if media == STRATEGIC_MERGE_PATCH:
        schema = SCHEMAS.get(kind)
        if schema is None:
            raise PatchError(f"strategic merge patch is not supported for {kind}")
        return apply_strategic_merge(original, patch, schema)
    if media == MERGE_PATCH:
        result = apply_merge_patch(original, patch)
    elif media == JSON_PATCH:
        result = apply_json_patch(original, patch)
    else:
        raise PatchError(
            f"{content_type!r} is not a patch type; accepted: {', '.join(PATCH_TYPES)}"
        )
    if not isinstance(result, dict):
        raise PatchError(f"the patched {kind} must be a JSON object")
    return result
