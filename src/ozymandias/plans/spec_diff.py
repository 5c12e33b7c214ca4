"""The field-by-field difference between a job's current spec and a proposed one.

Both sides are compared in the user's notation (`notation.py`), so the diff
reads `~ memory: 64M => 128M`, never byte counts or internal field names.
Changes are grouped as `nomad job plan` groups them: the job's own fields,
then each container's, each marked `+` (added), `-` (removed) or `~` (changed).
Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from ozymandias.plans.notation import spec_notation
from ozymandias.spec.models import JobSpec

Op = Literal["+", "-", "~"]

# Lists whose order means something: a changed one is shown whole, never item by item.
_ORDERED = frozenset({"command"})
_PLAIN_TEXT = re.compile(r"[\w./:@+=,-]+")


@dataclass(frozen=True)
class FieldChange:
    """One changed field, named by its path within the job or its container:
    "image", "environment.DEBUG", "volumes[0].space"."""

    op: Op
    field: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class ContainerChange:
    name: str
    op: Op
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class SpecDiff:
    """`op` is "+" for a new job, "~" for a changed one, None when nothing changes."""

    op: Op | None
    fields: tuple[FieldChange, ...] = ()
    containers: tuple[ContainerChange, ...] = ()

    @property
    def changed(self) -> bool:
        return self.op is not None


def diff_specs(old: JobSpec | None, new: JobSpec) -> SpecDiff:
    before = spec_notation(old) if old is not None else {}
    after = spec_notation(new)
    old_containers: dict[str, Any] = before.pop("containers", {})
    new_containers: dict[str, Any] = after.pop("containers")
    before.pop("name", None)  # the job is named by the plan itself, and never changes
    after.pop("name")
    fields = tuple(_changes(before, after, ""))
    containers = []
    for name in [*new_containers, *(n for n in old_containers if n not in new_containers)]:
        if name not in old_containers:
            op: Op = "+"
        elif name not in new_containers:
            op = "-"
        else:
            op = "~"
        changes = tuple(_changes(old_containers.get(name, {}), new_containers.get(name, {}), ""))
        if changes:
            containers.append(ContainerChange(name, op, changes))
    if old is None:
        return SpecDiff("+", fields, tuple(containers))
    return SpecDiff("~" if fields or containers else None, fields, tuple(containers))


def _changes(before: dict[str, Any], after: dict[str, Any], prefix: str) -> Iterator[FieldChange]:
    for key in [*after, *(k for k in before if k not in after)]:
        path = f"{prefix}.{key}" if prefix else key
        if key not in before:
            yield from _whole("+", path, key, after[key])
        elif key not in after:
            yield from _whole("-", path, key, before[key])
        else:
            yield from _value_changes(path, key, before[key], after[key])


def _whole(op: Op, path: str, key: str, value: Any) -> Iterator[FieldChange]:
    """An added or removed value: a mapping field by field, a list of values (ports) item by
    item, anything else at once."""
    if isinstance(value, dict) and value:
        for name, item in value.items():
            yield from _whole(op, f"{path}.{name}", name, item)
    elif isinstance(value, list) and _item_by_item(key, [], value):
        for item in value:
            yield from _whole(op, path, key, item)
    elif op == "+":
        yield FieldChange("+", path, new=value)
    else:
        yield FieldChange("-", path, old=value)


def _value_changes(path: str, key: str, old: Any, new: Any) -> Iterator[FieldChange]:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        yield from _changes(old, new, path)
    elif isinstance(old, list) and isinstance(new, list) and _item_by_item(key, old, new):
        yield from (FieldChange("-", path, old=item) for item in old if item not in new)
        yield from (FieldChange("+", path, new=item) for item in new if item not in old)
    elif isinstance(old, list) and isinstance(new, list) and _all_mappings(old + new):
        for index in range(max(len(old), len(new))):
            at = f"{path}[{index}]"
            if index >= len(old):
                yield from _whole("+", at, key, new[index])
            elif index >= len(new):
                yield from _whole("-", at, key, old[index])
            else:
                yield from _value_changes(at, key, old[index], new[index])
    else:
        yield FieldChange("~", path, old, new)


def _item_by_item(key: str, old: list[Any], new: list[Any]) -> bool:
    """Whether a list of values reads best as items added and removed (ports, depends_on):
    distinct scalars whose order is not what changed."""
    if key in _ORDERED or any(isinstance(item, dict | list) for item in old + new):
        return False
    before, after = set(map(repr, old)), set(map(repr, new))
    return len(before) == len(old) and len(after) == len(new) and before != after


def _all_mappings(items: list[Any]) -> bool:
    return all(isinstance(item, dict) for item in items)


def shown_value(value: Any) -> str:
    """A value on one line: plain text as is, anything else (or text with spaces) as JSON."""
    if isinstance(value, str) and _PLAIN_TEXT.fullmatch(value):
        return value
    return json.dumps(value, separators=(", ", ": "))


def diff_lines(diff: SpecDiff, job: str) -> list[str]:
    """The diff as `ozy plan` prints it, e.g. "~ job web", "  ~ container app",
    "    ~ image: web:1 => web:2"."""
    if diff.op is None:
        return []
    lines = [f"{diff.op} job {job}"]
    lines += [f"  {_line(change)}" for change in diff.fields]
    for container in diff.containers:
        lines.append(f"  {container.op} container {container.name}")
        lines += [f"    {_line(change)}" for change in container.fields]
    return lines


def _line(change: FieldChange) -> str:
    if change.op == "+":
        return f"+ {change.field}: {shown_value(change.new)}"
    if change.op == "-":
        return f"- {change.field}: {shown_value(change.old)}"
    return f"~ {change.field}: {shown_value(change.old)} => {shown_value(change.new)}"


def diff_to_json(diff: SpecDiff) -> dict[str, Any]:
    return {
        "op": diff.op,
        "fields": [_change_to_json(change) for change in diff.fields],
        "containers": [
            {
                "name": container.name,
                "op": container.op,
                "fields": [_change_to_json(change) for change in container.fields],
            }
            for container in diff.containers
        ],
    }


def diff_from_json(data: dict[str, Any]) -> SpecDiff:
    """The diff an API answer carries (`diff_to_json`), for the CLI to print."""
    return SpecDiff(
        cast(Op | None, data["op"]),
        tuple(_change_from_json(item) for item in data["fields"]),
        tuple(
            ContainerChange(
                item["name"],
                cast(Op, item["op"]),
                tuple(_change_from_json(change) for change in item["fields"]),
            )
            for item in data["containers"]
        ),
    )


def _change_to_json(change: FieldChange) -> dict[str, Any]:
    return {"op": change.op, "field": change.field, "old": change.old, "new": change.new}


def _change_from_json(data: dict[str, Any]) -> FieldChange:
    return FieldChange(cast(Op, data["op"]), data["field"], data.get("old"), data.get("new"))
