"""Children that die with the node daemon: the one place that sets PR_SET_PDEATHSIG.

The podman service, HAProxy and the embedded etcd must never outlive the
daemon that started them, not even when it is killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child must not run the dynamic loader between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid: int, *, own_process_group: bool = False) -> Callable[[], None]:
    """A preexec_fn making the child receive SIGTERM when the parent dies.

    The death signal follows the forking *thread*, so children must be started
    from a thread that lives as long as the daemon (the event loop's thread).
    With `own_process_group`, the child also leads a process group of its own
    (uvloop's subprocess_exec takes no `process_group`), so a terminal's Ctrl-C
    reaches the daemon, not the child, yet the child stays in the daemon's
    session.
    """

    def set_death_signal() -> None:
        if own_process_group:
            os.setpgid(0, 0)
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGTERM)

    return set_death_signal
