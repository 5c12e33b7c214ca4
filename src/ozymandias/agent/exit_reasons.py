"""Why a container stopped, in words, from what is known for certain: pure.

Exit code 137 alone only says SIGKILL: the OOM killer, `kill -9`, or a stop
past its grace period. Out of memory is said only when the runtime saw the
kernel's OOM killer kill a process of the container (`ContainerExit.oom_killed`).
"""

from __future__ import annotations

from ozymandias.spec.sizes import format_size

_EXIT_CODE_SIGKILL = 137


def exit_reason(
    container: str,
    code: int,
    *,
    oom_killed: bool = False,
    memory_limit: int | None = None,
    stopped_as_unhealthy: bool = False,
) -> str:
    """What happened to `container`, which exited with `code`.

    `memory_limit` (bytes) is only shown when the kill was for memory.
    """
    if stopped_as_unhealthy:
        return f"container {container} exited with code {code} (stopped: unhealthy)"
    if not oom_killed:
        return f"container {container} exited with code {code}"
    out_of_memory = "out of memory" + (
        f" (limit {format_size(memory_limit)})" if memory_limit is not None else ""
    )
    if code == _EXIT_CODE_SIGKILL:
        return f"container {container} was killed: {out_of_memory}"
    # The killed process was not the container's first (a shell's child,
    # say), which then exited its own way.
    return (
        f"container {container} exited with code {code}"
        f" after one of its processes was killed: {out_of_memory}"
    )
