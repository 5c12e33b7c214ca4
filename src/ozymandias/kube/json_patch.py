"""JSON patch (RFC 6902, `application/json-patch+json`) and JSON pointers (RFC 6901). Pure.

`kubectl patch --type json` sends it: a list of operations (add, remove,
replace, move, copy, test), applied in order, all or nothing. A pointer is
`/`-separated tokens with `~1` for `/` and `~0` for `~`; an array index is a
decimal without leading zeros, and `-` names the place after the last element
(for `add` only). Any failure, including a failed `test`, raises PatchError
and leaves the input untouched.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from ozymandias.kube.json_values import Json, json_equal
from ozymandias.kube.patch_error import PatchError

_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")


def apply_json_patch(document: Json, operations: Json) -> Json:
    """The document after every operation of the patch, in order; the input is not changed."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict):
            raise PatchError(f"operation {number} of the JSON patch is not an object")
        name = operation.get("op")
        apply = _OPERATIONS.get(name) if isinstance(name, str) else None
        if apply is None:
            raise PatchError(f"operation {number} has an unknown op {name!r}")
        try:
            result = apply(result, operation)
        except PatchError as error:
            raise PatchError(f"operation {number} ({name}): {error.message}") from None
    return result


def parse_pointer(pointer: Json) -> list[str]:
    """The reference tokens of a JSON pointer: `""` is the whole document, `/a~1b/0` is a/b, 0."""
    if not isinstance(pointer, str):
        raise PatchError(f"{pointer!r} is not a JSON pointer (a string)")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    if _BAD_ESCAPE.search(pointer):
        raise PatchError(f"JSON pointer {pointer!r} has a '~' not followed by 0 or 1")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _member(operation: dict[str, Json], name: str) -> Json:
    if name not in operation:
        raise PatchError(f"the operation needs a {name!r} member")
    return operation[name]


def _index(token: str, array: list[Json], *, allow_end: bool) -> int:
    """The array position a token names: an existing element, or one past the end for add."""
    if allow_end and token == "-":
        return len(array)
    if not _INDEX.fullmatch(token):
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(array) or (index == len(array) and not allow_end):
        raise PatchError(f"index {index} is out of range for an array of {len(array)}")
    return index


def _resolve(document: Json, tokens: list[str]) -> Json:
    """The value a pointer's tokens lead to; missing members and bad indices raise."""
    value = document
    for token in tokens:
        if isinstance(value, dict):
            if token not in value:
                raise PatchError(f"no member {token!r}")
            value = value[token]
        elif isinstance(value, list):
            value = value[_index(token, value, allow_end=False)]
        else:
            raise PatchError(f"cannot look up {token!r} in a {type(value).__name__}")
    return value


def _add(document: Json, path: Json, value: Json) -> Json:
    tokens = parse_pointer(path)
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, parent, allow_end=True), value)
    else:
        raise PatchError(f"cannot add {last!r} to a {type(parent).__name__}")
    return document


def _remove(document: Json, path: Json) -> tuple[Json, Json]:
    """The document without the value at path, and that value."""
    tokens = parse_pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(document, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"no member {last!r} to remove")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_index(last, parent, allow_end=False))
    raise PatchError(f"cannot remove {last!r} from a {type(parent).__name__}")


def _op_add(document: Json, operation: dict[str, Json]) -> Json:
    value = copy.deepcopy(_member(operation, "value"))
    return _add(document, _member(operation, "path"), value)


def _op_remove(document: Json, operation: dict[str, Json]) -> Json:
    return _remove(document, _member(operation, "path"))[0]


def _op_replace(document: Json, operation: dict[str, Json]) -> Json:
    path = _member(operation, "path")
    value = copy.deepcopy(_member(operation, "value"))
    tokens = parse_pointer(path)
    if not tokens:
        return value
    _resolve(document, tokens)
    document, _ = _remove(document, path)
    return _add(document, path, value)


def _op_move(document: Json, operation: dict[str, Json]) -> Json:
    source = _member(operation, "from")
    path = _member(operation, "path")
    source_tokens = parse_pointer(source)
    path_tokens = parse_pointer(path)
    if source_tokens == path_tokens:
        _resolve(document, source_tokens)
        return document
    if path_tokens[: len(source_tokens)] == source_tokens:
        raise PatchError(f"cannot move {source!r} into its own child {path!r}")
    document, value = _remove(document, source)
    return _add(document, path, value)


def _op_copy(document: Json, operation: dict[str, Json]) -> Json:
    value = copy.deepcopy(_resolve(document, parse_pointer(_member(operation, "from"))))
    return _add(document, _member(operation, "path"), value)


def _op_test(document: Json, operation: dict[str, Json]) -> Json:
    path = _member(operation, "path")
    expected = _member(operation, "value")
    if not json_equal(_resolve(document, parse_pointer(path)), expected):
        raise PatchError(f"test failed: the value at {path!r} is not {expected!r}")
    return document


_OPERATIONS: dict[str, Callable[[Json, dict[str, Json]], Json]] = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}
