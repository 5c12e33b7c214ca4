"""A job spec as its user would write it: `64M`, `10s`, `"80:3000"`, and no defaults.

The API stores and answers the validated model (`dump_job`): every field, in
bytes and seconds, under the model's own names (`memory: 67108864`,
`cluster_port`). People reading a job back (`ozy describe job`, `ozy plan`)
want the file they wrote. The rules follow the model's annotations, so a field
added to the spec later is shown too: a size as a size, a duration as a
duration, anything else as its JSON. Pure.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from ozymandias.spec.durations import format_duration, parse_duration
from ozymandias.spec.models import (
    DEFAULT_CHECK_TIMEOUT,
    HealthCheck,
    JobSpec,
    PortMapping,
    Size,
)
from ozymandias.spec.sizes import format_size

# The function every size field is parsed with (`Size`'s, and a volume's space).
_SIZE_PARSER = get_args(Size)[1].func

# Shown even at their defaults: what a reader of a job looks for first.
# (By class name: mypy joins the two model classes' types badly in a set display.)
_ALWAYS_SHOWN = frozenset({("JobSpec", "num_instances"), ("ContainerSpec", "memory")})


def spec_notation(spec: JobSpec) -> dict[str, Any]:
    """The job as YAML-ready data in the user's notation, fields in the spec's order."""
    return _fields(spec)


def port_notation(port: PortMapping) -> str:
    """Compose's short syntax: "80:3000", "3000" (same on both sides), "53/udp"."""
    ports = (
        str(port.container_port)
        if port.cluster_port == port.container_port
        else f"{port.cluster_port}:{port.container_port}"
    )
    return ports if port.protocol == "tcp" else f"{ports}/{port.protocol}"


def _fields(model: BaseModel) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    given: dict[str, Any] = {}  # what a default computed from other fields is computed from
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        given[name] = value
        if value is None:
            continue
        if isinstance(model, JobSpec) and model.is_system and name == "num_instances":
            continue  # a system job's count is its nodes', not part of what its user wrote
        always = (type(model).__name__, name) in _ALWAYS_SHOWN
        if not always and value == _default(model, name, given):
            continue
        shown[field.alias or name] = _rendered(field, value)
    return shown


def _default(model: BaseModel, name: str, given: dict[str, Any]) -> Any:
    if isinstance(model, HealthCheck) and name == "timeout":
        # A check's timeout defaults to fit within its interval (see HealthCheck).
        return min(DEFAULT_CHECK_TIMEOUT, model.interval)
    field = type(model).model_fields[name]
    # A default computed from the fields before it (a volume's name, from its path).
    return field.get_default(call_default_factory=True, validated_data=given)


def _rendered(field: FieldInfo, value: Any) -> Any:
    parsers = {m.func for m in field.metadata if isinstance(m, BeforeValidator)}
    if _SIZE_PARSER in parsers:
        return format_size(value)
    if parse_duration in parsers:
        return format_duration(value)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, PortMapping):
        return port_notation(value)
    if isinstance(value, BaseModel):
        return _fields(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
