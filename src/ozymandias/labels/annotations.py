"""What a job's annotations may be: Kubernetes' rules, so a Deployment's read the same. Pure.

Annotations are notes for tools, not for selectors: `kubectl apply` keeps the
last configuration it applied in one (`kubectl.kubernetes.io/last-applied-configuration`),
so a value may be long. The keys follow the label key syntax (checked in lowercase, as
the apiserver does); keys and values together are at most 256 KiB, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping

from ozymandias.labels.syntax import NAME_LENGTH, PREFIX_LENGTH, key_problem

MAX_ANNOTATIONS = 64
MAX_ANNOTATIONS_BYTES = 256 * 1024
MAX_ANNOTATION_KEY_LENGTH = PREFIX_LENGTH + 1 + NAME_LENGTH


def annotations_problem(annotations: Mapping[str, str]) -> str | None:
    """Why `annotations` cannot be a job's annotations (the first reason found), or None."""
    if len(annotations) > MAX_ANNOTATIONS:
        return f"at most {MAX_ANNOTATIONS} annotations, not {len(annotations)}"
    for key in annotations:
        problem = key_problem(key.lower())
        if problem:
            return problem.replace("label key", "annotation key", 1)
    size = sum(len(key.encode()) + len(value.encode()) for key, value in annotations.items())
    if size > MAX_ANNOTATIONS_BYTES:
        return f"annotations may be at most {MAX_ANNOTATIONS_BYTES} bytes in all, not {size}"
    return None
