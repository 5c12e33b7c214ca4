"""What changed from one version of a job to the next, in one line, for `ozy history` (pure).

Not the field-by-field diff `ozy plan` shows: a history has one line per
version, so this names what a reader scans it for (images, memory, the
instance count, containers added or removed) with the old and new values in
the user's notation, and any other field only by name. Every field is
compared, so a field added to the spec later still shows up as changed.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ozymandias.plans.notation import port_notation
from ozymandias.spec.models import ContainerSpec, JobSpec
from ozymandias.spec.sizes import format_size

FIRST_VERSION = "first version"
# A spec submitted again unchanged still makes a new version (`ozy restart`).
SAME_SPEC = "same spec"
# Beyond this many changes the line names how many more, so it stays one line.
MAX_CHANGES = 6
# Values are cut short: an image or a command can be hundreds of characters.
MAX_VALUE_LENGTH = 40


def summarize(previous: JobSpec | None, current: JobSpec) -> str:
    """One line: "image web:1 → web:2; memory 64M → 128M; +container sidecar"."""
    if previous is None:
        return FIRST_VERSION
    changes = spec_changes(previous, current)
    if not changes:
        return SAME_SPEC
    if len(changes) > MAX_CHANGES:
        kept = changes[: MAX_CHANGES - 1]
        changes = [*kept, f"{len(changes) - len(kept)} more changes"]
    return "; ".join(changes)


def spec_changes(previous: JobSpec, current: JobSpec) -> list[str]:
    """Each change from `previous` to `current`: the instance count, then each container
    (in the current spec's order, then the removed ones), then the other job fields."""
    changes = []
    if previous.num_instances != current.num_instances:
        changes.append(f"instances {previous.num_instances} → {current.num_instances}")
    # A container's name is said only when there is more than one to tell apart.
    several = len(previous.containers) > 1 or len(current.containers) > 1
    removed = [name for name in previous.containers if name not in current.containers]
    for name in [*current.containers, *removed]:
        before, after = previous.containers.get(name), current.containers.get(name)
        if before is None:
            changes.append(f"+container {name}")
        elif after is None:
            changes.append(f"-container {name}")
        else:
            prefix = f"{name} " if several else ""
            changes += [prefix + change for change in container_changes(before, after)]
    others = _changed_fields(previous, current, {"name", "num_instances", "containers"})
    changes += [f"{_written(JobSpec, field)} changed" for field in others]
    return changes


def container_changes(previous: ContainerSpec, current: ContainerSpec) -> list[str]:
    """Each changed field of a container, with its values where they fit on a line."""
    changes = []
    for field in _changed_fields(previous, current, set()):
        name = _written(ContainerSpec, field)
        if field == "environment":
            variables = _environment_change(previous.environment, current.environment)
            changes.append(f"{name} {variables}")
        elif field in _SHOWN:
            show = _SHOWN[field]
            old, new = show(getattr(previous, field)), show(getattr(current, field))
            changes.append(f"{name} {_cut(old)} → {_cut(new)}")
        elif getattr(previous, field) is None:
            changes.append(f"+{name}")
        elif getattr(current, field) is None:
            changes.append(f"-{name}")
        else:
            changes.append(f"{name} changed")
    return changes


def _environment_change(previous: dict[str, str], current: dict[str, str]) -> str:
    # Names only: a value can be long, and people do put tokens in variables.
    added = [f"+{name}" for name in current if name not in previous]
    removed = [f"-{name}" for name in previous if name not in current]
    changed = [
        f"~{name}" for name in current if name in previous and previous[name] != current[name]
    ]
    return " ".join(added + removed + changed)


def _names(items: list[str]) -> str:
    return ", ".join(items) or "none"


_SHOWN: dict[str, Callable[[Any], str]] = {
    "image": str,
    "memory": format_size,
    "cpus": lambda cpus: "unlimited" if cpus is None else f"{cpus:g}",
    "pids": str,
    "restart": str,
    "command": lambda command: "the image's" if command is None else shlex.join(command),
    "ports": lambda ports: _names([port_notation(port) for port in ports]),
    "depends_on": _names,
}


def _changed_fields(previous: BaseModel, current: BaseModel, skipped: set[str]) -> list[str]:
    """The fields, in the model's order, whose values differ."""
    return [
        field
        for field in type(current).model_fields
        if field not in skipped and getattr(previous, field) != getattr(current, field)
    ]


def _written(model: type[BaseModel], field: str) -> str:
    """A field as the user writes it: its alias (`nodeSelector`), if it has one."""
    return model.model_fields[field].alias or field


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"
