"""Reading the kernel's log (/dev/kmsg) records for what podman does not tell: OOM kills.

Pure: one record in, what it says out. The reading itself is oom_kills.py.
"""

from __future__ import annotations

import re

# The one-line summary the kernel logs for every OOM kill (mm/oom_kill.c,
# dump_oom_summary), e.g. "oom-kill:constraint=CONSTRAINT_MEMCG,...,
# oom_memcg=/libpod_parent/libpod-ID,task_memcg=/libpod_parent/libpod-ID,task=dd,...".
# `task_memcg` is the memory cgroup of the killed process: a container's own
# (podman's cgroupfs manager names it libpod-ID, under the pod's cgroup if any;
# its systemd manager libpod-ID.scope). `oom_memcg`, the cgroup whose limit was
# reached, may be a parent's, so it does not say whose process died.
_OOM_KILL = re.compile(r"oom-kill:(?:[^,]*,)*?task_memcg=[^,]*/libpod-([0-9a-f]{64})(?:\.scope)?,")


def oom_killed_container(record: bytes) -> str | None:
    """The id of the container a process of which the OOM killer killed, as one /dev/kmsg
    record says; None if the record says nothing of the kind.

    A record is "PRIORITY,SEQUENCE,MICROSECONDS,FLAGS;MESSAGE\\n", then
    continuation lines starting with a space.
    """
    _, _, message = record.partition(b";")
    first_line = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    match = _OOM_KILL.match(first_line)
    return match.group(1) if match else None
