"""Which fields of a Kubernetes object a write changed, as dotted paths (pure).

The write side serves objects of which only some fields may change (a Node's
`spec.unschedulable`, a Scale's `spec.replicas`): a patch is applied to the
object as served, and every other path it changed is refused by name, so
kubectl prints `spec.taints: Forbidden` rather than the change being lost.

A field set to null and a field left out are the same (Go's omitempty), so
`{"spec": {"unschedulable": null}}` leaves an object with no such field as it
was. Lists are compared whole, named by their path with the index.
"""

from __future__ import annotations

from typing import Any


def changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """The dotted paths at which `after` differs from `before`, sorted; [] if none."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) is None and after.get(key) is None:
                continue
            found.extend(changed_paths(before.get(key), after.get(key), _join(path, key)))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found.extend(changed_paths(old, new, f"{path}[{index}]"))
        return found
    if _same(before, after):
        return []
    return [path]


def value_at(document: Any, path: str) -> Any:
    """The value at a dotted path of `changed_paths` (no list indexes), None if absent."""
    current = document
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _same(before: Any, after: Any) -> bool:
    # True == 1 in Python; in JSON a boolean and a number are different values.
    return type(before) is type(after) and before == after


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
