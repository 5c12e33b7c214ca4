"""A cache of what is derived from one job spec object, for listing many objects of it. Pure.

A list of 1,000 Pods of one job renders that job's containers and labels once,
not 1,000 times. Specs are frozen, and the mirrors hand out the same object
until the job changes, so the object itself is the key: it is held in the
cache (an id alone could be reused by another object once the first is gone).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from ozymandias.spec.models import JobSpec

T = TypeVar("T")
MAX_SPECS = 1024


def per_spec(derive: Callable[[JobSpec], T]) -> Callable[[JobSpec], T]:
    """`derive`, computed once per spec object; callers must not change what it returns."""
    cache: dict[int, tuple[JobSpec, T]] = {}

    @wraps(derive)
    def cached(spec: JobSpec) -> T:
        hit = cache.get(id(spec))
        if hit is not None and hit[0] is spec:
            return hit[1]
        value = derive(spec)
        if len(cache) >= MAX_SPECS:
            cache.clear()
        cache[id(spec)] = (spec, value)
        return value

    return cached
