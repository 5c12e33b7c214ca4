"""Reading a Kubernetes object field by field, so that no field is ever dropped unseen. Pure.

A `Reader` wraps one mapping of the object at its path (`spec.template.spec`).
The mapping code takes each key it maps, accepts the keys that may only hold
their Kubernetes default (`default_only`), and `done()` then refuses every key
left, whatever it is, naming its full path: a field we do not map is an error,
never silently lost. Problems are collected as Status causes, so one answer
lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ozymandias.kube.status import Cause, cause, go_value, unsupported

NOT_MAPPED = "Ozymandias has no equivalent of this field"
# Where ozy has another way to the same end, the refusal says which.
HINTS = {
    "imagePullSecrets": "nodes pull with the cluster's registry logins (`ozy registry login`)",
    "valueFrom": "a secret's value goes in with the job's `secrets` (`ozy secret set`)",
    "envFrom": "a secret's values go in with the job's `secrets` (`ozy secret set`)",
    "hostPath": "use an emptyDir with a sizeLimit (a local volume)",
    "persistentVolumeClaim": "use an emptyDir with a sizeLimit (a local volume)",
    "initContainers": "a job's containers can wait for one another (`depends_on`)",
}


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


class Reader:
    """The fields of one mapping at `path`; what is wrong goes to `causes`."""

    def __init__(self, data: Any, path: str, causes: list[Cause]) -> None:
        self.path = path
        self.causes = causes
        self._taken: set[str] = set()
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self.invalid("", data, f"expected an object, not {type_name(data)}")
            data = {}
        self._data: Mapping[str, Any] = data

    def at(self, key: str | int) -> str:
        """The full path of `key` (a field name, or an index in a list)."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        if key == "":
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def take(self, key: str) -> Any:
        """The value of `key` (None when absent or null), counted as mapped."""
        self._taken.add(key)
        return self._data.get(key)

    def reader(self, key: str) -> Reader:
        """A reader of the mapping at `key` (empty when absent)."""
        return Reader(self.take(key), self.at(key), self.causes)

    def items(self, key: str) -> list[Reader]:
        """A reader of each mapping in the list at `key`."""
        value = self.take(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.invalid(key, value, f"expected an array, not {type_name(value)}")
            return []
        return [
            Reader(item, f"{self.at(key)}[{index}]", self.causes)
            for index, item in enumerate(value)
        ]

    def string(self, key: str) -> str | None:
        value = self.take(key)
        if value is None or isinstance(value, str):
            return value
        self.invalid(key, value, f"expected a string, not {type_name(value)}")
        return None

    def integer(self, key: str) -> int | None:
        value = self.take(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        self.invalid(key, value, f"expected an integer, not {type_name(value)}")
        return None

    def number(self, key: str) -> int | float | None:
        """An integer, or a number of seconds a job spec holds finer than Kubernetes does."""
        value = self.take(key)
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            return value
        self.invalid(key, value, f"expected a number, not {type_name(value)}")
        return None

    def strings(self, key: str) -> list[str] | None:
        value = self.take(key)
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        self.invalid(key, value, "expected an array of strings")
        return None

    def string_map(self, key: str) -> dict[str, str]:
        value = self.take(key)
        if value is None:
            return {}
        if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
            return dict(value)
        self.invalid(key, value, "expected an object of strings")
        return {}

    def default_only(self, key: str, *defaults: Any) -> None:
        """Accept `key` only absent or at one of its `defaults` (which is what we do anyway)."""
        value = self.take(key)
        if value is not None and value not in defaults:
            shown = ", ".join(go_value(default) for default in defaults)
            self.causes.append(
                cause("FieldValueNotSupported", self.at(key), value, f"supported values: {shown}")
            )

    def ignore(self, *keys: str) -> None:
        """Keys the server sets and a client may echo back (uid, resourceVersion, status)."""
        self._taken.update(keys)

    def invalid(self, key: str | int, value: Any, detail: str) -> None:
        self.causes.append(cause("FieldValueInvalid", self.at(key), value, detail))

    def required(self, key: str, detail: str) -> None:
        self.causes.append(cause("FieldValueRequired", self.at(key), detail=detail))

    def unsupported(self, key: str, value: Any, supported: list[str] | None = None) -> None:
        self.causes.append(unsupported(self.at(key), value, supported or []))

    def done(self) -> None:
        """Refuse every key nothing took: it has no mapping here."""
        for key, value in self._data.items():
            if key not in self._taken:
                detail = NOT_MAPPED + (f": {HINTS[key]}" if key in HINTS else "")
                self.causes.append(cause("FieldValueNotSupported", self.at(key), value, detail))
