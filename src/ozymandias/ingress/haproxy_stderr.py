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


def stderr_level(line: str, *, stopping: bool = False) -> int:
    """The level a line of HAProxy's stderr is logged at: its [NOTICE]s (version, workers
    forked, loading success, on every reload), the servers our runtime commands move and
    whatever a generation we told to stop says as it goes are routine; anything else may
    matter."""
    if stopping or line.startswith("[NOTICE]") or _OWN_STATE_CHANGE.search(line):
        return logging.DEBUG
    return logging.WARNING
