"""Strategic merge patch (`application/strategic-merge-patch+json`), as kubectl apply sends. Pure.

The apply half of k8s.io/apimachinery/pkg/util/strategicpatch/patch.go, over a
`PatchSchema` instead of Go struct tags. Maps merge key by key and `null`
removes a key. A list whose field has strategy `merge` merges element by
element: lists of maps by the field's merge key (containers by `name`, ports by
`containerPort`), lists of scalars as sets; any other list is replaced whole.
The result keeps the order Kubernetes gives: `$setElementOrder`, then the
patch's order, then the live object's.

Directives kubectl writes, all carried out here:
- `$patch: replace` in a map (the map becomes the patch's) or as a list element
  (the list becomes the patch's other elements); `$patch: delete` in a map (it
  empties) or in a list element (removes the elements with its merge key);
  `$patch: merge` is the default, said explicitly (Kubernetes refuses it;
  kubectl never sends it);
- `$deleteFromPrimitiveList/<field>: [...]` removes scalars from a list;
- `$setElementOrder/<field>: [...]` gives the order of the merged list;
- `$retainKeys: [...]` clears every key of the live map it does not name (on
  fields with strategy retainKeys: a Deployment's `strategy`, a pod's volumes).

Kubernetes leaves a directive it does not consume (such as `$retainKeys` on a
field the live object lacks) for its typed decoder to drop. Here the result goes
straight to the Deployment mapping, which refuses fields it does not know, so
no directive and no null-valued member is ever left in the result.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import NamedTuple

from ozymandias.kube.json_values import Json, json_equal
from ozymandias.kube.patch_error import PatchError

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


class FieldPatch(NamedTuple):
    """A field's patch strategy and merge key, as the Go struct tags spell them.

    `strategy` is a comma-separated set of `merge`, `replace` and `retainKeys`;
    `merge_key` names the member that identifies an element of a list of maps.
    """

    strategy: str
    merge_key: str = ""

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def replaces(self) -> bool:
        return "replace" in self.strategy.split(",")


# Field path from the object's root, list levels left out
# ("spec.template.spec.containers.env") -> that field's strategy.
# A field not listed merges if it is a map and is replaced if it is a list.
PatchSchema = Mapping[str, FieldPatch]


def apply_strategic_merge(original: Json, patch: Json, schema: PatchSchema) -> dict[str, Json]:
    """The object `patch` makes of `original`; neither input is changed."""
    if not isinstance(original, dict):
        raise PatchError("the object to patch must be a JSON object")
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), "", schema)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return path or "the object"


def _merge_map(
    original: dict[str, Json], patch: dict[str, Json], path: str, schema: PatchSchema
) -> dict[str, Json]:
    """Merge `patch` into `original` (both owned by the caller, changed in place)."""
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _clean_map(patch)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"unknown $patch directive {directive!r} in {_where(path)}")
    _apply_retain_keys(original, patch, path)
    _apply_element_orders(original, patch, path, schema)
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            _delete_from_primitive_list(original, key, value, path)
            continue
        if key.startswith("$"):
            raise PatchError(f"unknown directive {key!r} in {_where(path)}")
        child = _child(path, key)
        current = original.get(key)
        if value is None:
            original.pop(key, None)
        elif isinstance(current, dict) and isinstance(value, dict):
            field = schema.get(child)
            if field is not None and field.replaces:
                original[key] = _clean_map(value)
            else:
                original[key] = _merge_map(current, value, child, schema)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list(current, value, child, schema)
        elif isinstance(current, (dict, list)) or isinstance(value, (dict, list)):
            # A new field, or one whose kind changes: take the patch's value as a
            # whole, its directives carried out against nothing.
            _set_fresh(original, key, value, child, schema)
        else:
            original[key] = value
    return original


def _set_fresh(
    original: dict[str, Json], key: str, value: Json, path: str, schema: PatchSchema
) -> None:
    """Set a field from a patch value that has nothing to merge with."""
    if isinstance(value, dict):
        if value.get(DIRECTIVE) == "delete":
            original.pop(key, None)
        else:
            original[key] = _merge_map({}, value, path, schema)
    elif isinstance(value, list):
        original[key] = _merge_list([], value, path, schema)
    else:
        original[key] = value


def _clean(value: Json) -> tuple[Json, bool]:
    """A patch value taken whole, without directives or null members, and whether to keep it.

    As Kubernetes' removeDirectives: a map carrying `$patch` is dropped.
    """
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return None, False
        return _clean_map(value), True
    if isinstance(value, list):
        kept = [_clean(item) for item in value]
        return [item for item, keep in kept if keep], True
    return value, True


def _clean_map(value: dict[str, Json]) -> dict[str, Json]:
    cleaned: dict[str, Json] = {}
    for key, member in value.items():
        if member is None or key in (DIRECTIVE, RETAIN_KEYS):
            continue
        if key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST)):
            continue
        item, keep = _clean(member)
        if keep:
            cleaned[key] = item
    return cleaned


def _apply_retain_keys(original: dict[str, Json], patch: dict[str, Json], path: str) -> None:
    """Clear the keys of `original` that `$retainKeys` does not name."""
    if RETAIN_KEYS not in patch:
        return
    retained = patch.pop(RETAIN_KEYS)
    if not isinstance(retained, list) or not all(isinstance(key, str) for key in retained):
        raise PatchError(f"$retainKeys in {_where(path)} must be a list of field names")
    for key, value in patch.items():
        if value is None or key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST)):
            continue
        if key not in retained:
            raise PatchError(
                f"the patch sets {_child(path, key)}, which $retainKeys in {_where(path)} "
                "does not list"
            )
    for key in [key for key in original if key not in retained]:
        del original[key]


def _delete_from_primitive_list(
    original: dict[str, Json], directive: str, values: Json, path: str
) -> None:
    field = directive[len(DELETE_FROM_PRIMITIVE_LIST) :]
    if not field:
        raise PatchError(f"{directive!r} in {_where(path)} names no field")
    if not isinstance(values, list):
        raise PatchError(f"{directive} in {_where(path)} must be a list")
    current = original.get(field)
    if isinstance(current, list):
        original[field] = [
            item for item in current if not any(json_equal(item, gone) for gone in values)
        ]


def _merge_list(
    original: list[Json], patch: list[Json], path: str, schema: PatchSchema
) -> list[Json]:
    field = schema.get(path)
    if field is None or not field.merges:
        cleaned, _ = _clean(patch)
        return list(cleaned)
    if not original and not patch:
        return original
    key = field.merge_key
    if key:
        original, items = _special_elements(original, patch, key, path)
        merged = _merge_by_key(original, items, key, path, schema)
    else:
        if any(isinstance(item, (dict, list)) for item in [*original, *patch]):
            raise PatchError(f"{path} merges as a list of values, without objects or lists")
        items = patch
        merged = _unique([*original, *patch])
    in_patch, server_only = _partition(merged, items, key)
    return _ordered(in_patch, server_only, items, original, key, path)


def _unique(values: list[Json]) -> list[Json]:
    unique: list[Json] = []
    for value in values:
        if not any(json_equal(value, seen) for seen in unique):
            unique.append(value)
    return unique


def _merge_key_of(item: Json, key: str, path: str) -> Json:
    if not isinstance(item, dict):
        raise PatchError(f"an element of {path} is not an object (it merges by {key!r})")
    if key not in item:
        raise PatchError(f"an element of {path} does not contain declared merge key {key!r}")
    return item[key]


def _special_elements(
    original: list[Json], patch: list[Json], key: str, path: str
) -> tuple[list[Json], list[Json]]:
    """Carry out the `$patch` elements: the live list after them, and the patch's other elements."""
    items: list[Json] = []
    replace = False
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"an element of {path} is not an object (it merges by {key!r})")
        directive = item.get(DIRECTIVE)
        if directive is None:
            _merge_key_of(item, key, path)
            items.append(item)
        elif directive == "delete":
            gone = _merge_key_of(item, key, path)
            original = [kept for kept in original if not json_equal(kept.get(key), gone)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            items.append({name: value for name, value in item.items() if name != DIRECTIVE})
            _merge_key_of(items[-1], key, path)
        else:
            raise PatchError(f"unknown $patch directive {directive!r} in {path}")
    if replace:
        return [_clean_map(item) for item in items], []
    return original, items


def _merge_by_key(
    original: list[Json], items: list[Json], key: str, path: str, schema: PatchSchema
) -> list[Json]:
    merged = list(original)
    for item in items:
        value = item[key]
        for index, current in enumerate(merged):
            if not isinstance(current, dict):
                raise PatchError(f"an element of {path} is not an object")
            if key in current and json_equal(current[key], value):
                merged[index] = _merge_map(current, item, path, schema)
                break
        else:
            merged.append(_merge_map({}, item, path, schema))
    return merged


def _identity(item: Json, key: str) -> Json:
    """What identifies a list element: its merge key's value, or itself for a scalar."""
    return item.get(key) if key and isinstance(item, dict) else item


def _identity_checked(item: Json, key: str, path: str) -> Json:
    return _merge_key_of(item, key, path) if key else item


def _position(items: list[Json], item: Json, key: str) -> int:
    wanted = _identity(item, key)
    for index, candidate in enumerate(items):
        if json_equal(_identity(candidate, key), wanted):
            return index
    return -1


def _partition(merged: list[Json], items: list[Json], key: str) -> tuple[list[Json], list[Json]]:
    """Split the merged list into the elements the patch names and those only the server has."""
    named = [item for item in merged if _position(items, item, key) >= 0]
    server_only = [item for item in merged if _position(items, item, key) < 0]
    return named, server_only


def _ordered(
    in_patch: list[Json],
    server_only: list[Json],
    patch_order: list[Json],
    server_order: list[Json],
    key: str,
    path: str,
) -> list[Json]:
    """Kubernetes' normalizeElementOrder: both parts in their own order, then interleaved.

    The patch's elements keep the patch's (or $setElementOrder's) order, the
    server-only ones the live order, and a server-only element goes before a
    patch element only when the live list had it first.
    """
    if key:
        for item in [*patch_order, *server_order]:
            _merge_key_of(item, key, path)

    left = sorted(server_only, key=lambda item: _rank(server_order, item, key))
    right = sorted(in_patch, key=lambda item: _rank(patch_order, item, key))
    result: list[Json] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            result.append(left[i])
            i += 1
        elif i >= len(left):
            result.append(right[j])
            j += 1
        else:
            left_at = _position(server_order, left[i], key)
            right_at = _position(server_order, right[j], key)
            if 0 <= left_at < right_at:
                result.append(left[i])
                i += 1
            else:
                result.append(right[j])
                j += 1
    return result


def _rank(order: list[Json], item: Json, key: str) -> int:
    position = _position(order, item, key)
    return position if position >= 0 else len(order)


def _apply_element_orders(
    original: dict[str, Json], patch: dict[str, Json], path: str, schema: PatchSchema
) -> None:
    """Carry out each `$setElementOrder/<field>` with the patch's list for that field, if any."""
    for directive in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        field = directive[len(SET_ELEMENT_ORDER) :]
        if not field:
            raise PatchError(f"{directive!r} in {_where(path)} names no field")
        if not isinstance(order, list):
            raise PatchError(f"{directive} in {_where(path)} must be a list")
        child = _child(path, field)
        meta = schema.get(child)
        key = meta.merge_key if meta is not None else ""
        live = original.get(field)
        if live is not None and not isinstance(live, list):
            raise PatchError(f"{directive} in {_where(path)} applies to {child}, not a list")
        if field in patch and not isinstance(patch[field], list):
            raise PatchError(f"{directive} in {_where(path)} goes with a list for {child}")
        patched: list[Json] | None = patch.pop(field, None)
        _check_order(patched or [], order, key, child)
        if patched is not None:
            merged = _merge_list(live or [], patched, child, schema)
        elif live is not None:
            merged = live
        else:
            continue
        in_order, server_only = _partition(merged, order, key)
        original[field] = _ordered(in_order, server_only, order, live or [], key, child)


def _check_order(patched: list[Json], order: list[Json], key: str, path: str) -> None:
    """The patch's elements must come in $setElementOrder's order (Kubernetes checks it too)."""
    if not patched or not order:
        return
    named = [item for item in patched if not (isinstance(item, dict) and DIRECTIVE in item)]
    i = j = 0
    while i < len(named) and j < len(order):
        wanted = _identity_checked(order[j], key, path)
        if json_equal(_identity_checked(named[i], key, path), wanted):
            i += 1
        j += 1
    if i < len(named):
        raise PatchError(f"the order of {path} in the patch doesn't match its $setElementOrder")
