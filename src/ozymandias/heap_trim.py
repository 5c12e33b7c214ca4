"""Handing the free heap pages back to the kernel: once a node has caught up, then now and then.

A node's first sync reads the whole cluster at once: the mirrors' scans, the
first route layout and HAProxy config, the DNS zone. Python frees most of
what that builds as soon as it is read, but glibc keeps the freed pages in its
arenas (the gRPC threads' ones too), so the node's RSS stays well above what it
holds: at 10,000 instances, `malloc_trim(0)` then gave back 15 MiB of 147
(bench/control_plane.py, small scenario), 1.5 KB an instance. Later bursts
(full lists, HAProxy configs rewritten, status flips) leave holes the same
way, so the node trims again every `TRIM_EVERY` seconds: a few milliseconds
of one core each time, nothing on a node with nothing to give back.
"""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Callable

TRIM_EVERY = 60.0

# The process's own symbols include the C library's: no search for its file
# (ctypes.util.find_library runs ldconfig). musl and others have no malloc_trim.
_MALLOC_TRIM: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)


def trim_heap() -> bool:
    """Return the C heap's free pages to the kernel; whether the C library can."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True


async def trim_heap_every(seconds: float = TRIM_EVERY) -> None:
    """Trim every `seconds`, until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        trim_heap()
