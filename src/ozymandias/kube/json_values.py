"""JSON values as the patch engines see them, and JSON's own notion of equality. Pure.

Python's `==` says `True == 1` and `1 == 1.0`; JSON (RFC 8259, and RFC 6902's
`test`) says a boolean is never a number while 1 and 1.0 are the same number.
The patch engines compare merge keys, set members and `test` values with
`json_equal` so that a patch behaves as it does against a Kubernetes server.
"""

from __future__ import annotations

from typing import Any, TypeAlias

# A decoded JSON value: dict[str, Json], list[Json], str, int, float, bool or None.
Json: TypeAlias = Any


def json_equal(left: Json, right: Json) -> bool:
    """Whether two decoded JSON values are equal as JSON (objects unordered, lists ordered)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(json_equal(left[key], right[key]) for key in left)
        )
    if isinstance(left, list):
        return (
            isinstance(right, list)
            and len(left) == len(right)
            and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
        )
    if isinstance(left, (int, float)):
        return isinstance(right, (int, float)) and left == right
    return type(left) is type(right) and bool(left == right)
