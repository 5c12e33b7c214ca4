"""Mirrored records whose models share one set of field names per distinct set (#21).

Pydantic keeps, in every model, the set of the fields its input gave
(`__pydantic_fields_set__`): 200-700 bytes each, more than half of what a
job record costs in a node's mirrors (4.7 of its 8.2 KB, bench/mirror_memory.py).
Every stored record carries all its fields, so those sets are nearly all equal:
one shared set per distinct set holds the same information.

Only frozen models share: pydantic adds to the set only when a field is
assigned, which a frozen model refuses, and `model_copy` copies the set before
changing it. Only `exclude_unset` dumps read it, and ozy makes none.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

# Keyed by (model class, field names). Bounded in practice by the record classes:
# a stored record carries every field, so each class has one set, or a few for
# records written by older versions.
_SHARED: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}


def share_field_sets(record: Model) -> Model:
    """`record` itself, with it and every model inside it holding a shared field set."""
    _share(record)
    return record


def _share(value: Any) -> None:
    if isinstance(value, BaseModel):
        model_type = type(value)
        if model_type.model_config.get("frozen"):
            given = value.__pydantic_fields_set__
            shared = _SHARED.setdefault((model_type, frozenset(given)), given)
            if shared is not given:
                object.__setattr__(value, "__pydantic_fields_set__", shared)
        for field in value.__dict__.values():
            _share(field)
    elif isinstance(value, list | tuple):
        for item in value:
            _share(item)
    elif isinstance(value, dict):
        for item in value.values():
            _share(item)
