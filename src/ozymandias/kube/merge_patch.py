"""JSON merge patch (RFC 7386, `application/merge-patch+json`). Pure.

`kubectl patch --type merge` sends it, as do clients without type information
(a custom resource's client, `kubectl apply` on an unknown kind). Objects merge
key by key, `null` removes a key, and anything else, lists included, replaces
what was there. `create_merge_patch` is the other direction: the patch that
turns one document into another (used by tests and by anything that needs to
describe a change, such as a dry run's diff).
"""

from __future__ import annotations

import copy

from ozymandias.kube.json_values import Json, json_equal


def apply_merge_patch(target: Json, patch: Json) -> Json:
    """The document `patch` makes of `target` (RFC 7386 section 2); neither input is changed."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def create_merge_patch(source: Json, target: Json) -> Json:
    """A merge patch that turns `source` into `target`.

    RFC 7386 cannot say "set this key to null", so a `target` with null
    object members comes out without them; everything else round-trips.
    """
    if not (isinstance(source, dict) and isinstance(target, dict)):
        return copy.deepcopy(target)
    patch: dict[str, Json] = {key: None for key in source if key not in target}
    for key, value in target.items():
        if key not in source:
            patch[key] = copy.deepcopy(value)
        elif not json_equal(source[key], value):
            patch[key] = create_merge_patch(source[key], value)
    return patch
