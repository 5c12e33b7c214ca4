"""Handing the heap's free pages back to the kernel once a node has caught up.

A node's first sync reads the whole cluster at once: the mirrors' scans, the
first route layout and HAProxy config, the DNS zone. Python frees most of
what that builds as soon as it is read, but glibc keeps the freed pages in its
arenas (the gRPC threads' ones too), so the node's RSS stays well above what it
holds: at 10,000 instances, `malloc_trim(0)` then gave back 15 MiB of 147
(bench/control_plane.py, small scenario), 1.5 KB an instance. An idle node on
an empty cluster has nothing to give back, so trimming there costs nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)


def trim_heap() -> bool:
    """Return the C heap's free pages to the kernel; whether the C library could."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    # musl and other C libraries have no malloc_trim: nothing to do there.
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("heap trimmed: %s", "pages released" if released else "nothing to release")
    return True
