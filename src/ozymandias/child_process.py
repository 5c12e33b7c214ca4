"""Child processes: those that die with the node daemon, and programs run to completion.

The podman service, HAProxy and the embedded etcd must never outlive the
daemon that started them, not even when it is killed with SIGKILL: this is
the one place that sets PR_SET_PDEATHSIG. The adapters that run a program
per action (`ip`, `mkfs`, `mount`) run it with `run_program`.
"""

from __future__ import annotations

import asyncio
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


async def run_program(program: str, *arguments: str, error: Callable[[str], Exception]) -> str:
    """Run a program to completion and return its output; `error(message)` is raised,
    with the command and what it said on stderr, if it exits non-zero."""
    process = await asyncio.create_subprocess_exec(
        program, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise error(f"{program} {' '.join(arguments)}: {err.decode().strip()}")
    return out.decode()


async def stop_child(process: asyncio.subprocess.Process, grace_seconds: float) -> None:
    """SIGTERM a child, and SIGKILL it if it has not exited after `grace_seconds`."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
