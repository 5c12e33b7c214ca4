"""Which objects a list or watch request selects: its label and field selectors.

Parsing and matching are kube/selectors.py's (pure); this applies them to the
Kubernetes objects a route has built. Bad syntax is a 400 Status from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ozymandias.kube.selectors import (
    FieldSelector,
    LabelSelector,
    field_matches,
    matches,
    parse_field_selector,
    parse_label_selector,
    single_name,
)


@dataclass(frozen=True)
class Selection:
    labels: LabelSelector = ()
    fields: FieldSelector = ()

    def wants(self, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata", {})
        return matches(self.labels, metadata.get("labels") or {}) and field_matches(
            self.fields, obj
        )

    def of(self, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [obj for obj in objects if self.wants(obj)]

    @property
    def name(self) -> str | None:
        """The one name `metadata.name=X` selects (kubectl delete's wait), if it does."""
        return single_name(self.fields)


def select(labels: str | None, fields: str | None, kind: str) -> Selection:
    """The selection of `labelSelector` and `fieldSelector` for `kind` (Pod, Node, ...)."""
    return Selection(
        parse_label_selector(labels) if labels else (),
        parse_field_selector(fields, kind) if fields else (),
    )
