"""Mirrored records that share what equal records repeat (#21).

A node mirrors every job and schedule in the cluster, and most of what their
pydantic models cost is not their data (bench/mirror_memory.py, a minimal job
record: 8.2 KB). Two things repeat from record to record:

- the set of the fields its input gave, kept in every model
  (`__pydantic_fields_set__`, 200-700 bytes each: 4.7 of those 8.2 KB). Every
  stored record carries all its fields, so the sets are nearly all equal: one
  shared set per distinct set holds the same information;
- equal small models: most jobs' update policy is the default one, many ports
  map 80 to 8080. Of the models that hold only plain values (strings, numbers,
  enums, None), one per distinct value is kept, the first one seen.

Only frozen models share: pydantic adds to the field set only when a field is
assigned, which a frozen model refuses, and `model_copy` copies the set before
changing it; only `exclude_unset` dumps read it, and ozy makes none. A model
shared whole holds nothing that could change in place.
"""

from __future__ import annotations

import enum
import weakref
from typing import Any, TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)

# Keyed by (model class, field names). Bounded in practice by the record classes:
# a stored record carries every field, so each class has one set, or a few for
# records written by older versions.
_FIELD_SETS: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}

# The one model of each value in use, keyed by its class, its values' types and its
# values (1 and 1.0 are equal, but serialise apart); it goes with the last record
# holding it.
_MODELS: weakref.WeakValueDictionary[tuple[Any, ...], BaseModel] = weakref.WeakValueDictionary()

_PLAIN = (str, int, float, enum.Enum, type(None))


def shared(record: Model) -> Model:
    """`record` itself, its models (nested too) sharing field sets and equal parts."""
    _share(record)
    return record


def _share(value: Any) -> Any:
    """`value`, or the equal model already in use; what it holds shared in place."""
    if isinstance(value, BaseModel):
        return _share_model(value)
    if isinstance(value, list):
        value[:] = [_share(item) for item in value]
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _share(item)
    return value


def _share_model(model: BaseModel) -> BaseModel:
    model_type = type(model)
    if not model_type.model_config.get("frozen"):
        for item in model.__dict__.values():
            _share(item)
        return model
    given = model.__pydantic_fields_set__
    fields = _FIELD_SETS.setdefault((model_type, frozenset(given)), given)
    if fields is not given:
        object.__setattr__(model, "__pydantic_fields_set__", fields)
    values = model.__dict__
    for name, item in values.items():
        # Set in place before anyone reads the record: it was just decoded.
        values[name] = _share(item)
    if not all(isinstance(item, _PLAIN) for item in values.values()):
        return model
    key = (model_type, *map(type, values.values()), *values.values())
    return _MODELS.setdefault(key, model)
