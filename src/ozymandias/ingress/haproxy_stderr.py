"""The level a line of HAProxy's stderr is logged at. Pure."""

from __future__ import annotations

import logging
import re

# What HAProxy says of a server the node's own runtime commands put in or out of
# maintenance: a line per health change anywhere in the cluster (200 a second under
# the control-plane bench), which at WARNING cost the daemon more than the change.
_OWN_STATE_CHANGE = re.compile(
    r"Server \S+ is (going DOWN for maintenance|UP/READY \(leaving forced maintenance\))"
)


def stderr_level(line: str) -> int:
    """The level a line of HAProxy's stderr is logged at: its [NOTICE]s (version, workers
    forked, loading success, on every reload) and the servers our runtime commands move
    are routine; anything else may matter."""
    if line.startswith("[NOTICE]") or _OWN_STATE_CHANGE.search(line):
        return logging.DEBUG
    return logging.WARNING
