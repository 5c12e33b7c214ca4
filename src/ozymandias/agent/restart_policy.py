"""When an exited container is started again, and after how long: pure rules.

The node applies restart policies itself instead of handing them to podman,
so that back-off, restart counts and events are the same on every runtime
and visible in etcd.
"""

from __future__ import annotations

from typing import Literal

RestartPolicy = Literal["always", "on-failure", "never", "unless-stopped"]

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0

# A container that ran at least this long before exiting was healthy for a
# while: its next restart starts the back-off from the beginning again.
STABLE_RUN_SECONDS = 60.0


def should_restart(policy: RestartPolicy, exit_code: int) -> bool:
    """Whether a container that exited with `exit_code` is started again.

    `unless-stopped` differs from `always` only for containers a user stopped
    by hand, which an orchestrator never does; here the two are the same.
    """
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return exit_code != 0
    return False


def retries_exhausted(max_retries: int | None, restarts: int) -> bool:
    """Whether a container restarted `restarts` times already has used up its `max_retries`
    (compose's `on-failure:N`); None is no limit."""
    return max_retries is not None and restarts >= max_retries


def restart_delay(crash_streak: int) -> float:
    """The wait before restart number `crash_streak` (1-based) of a crash streak.

    Doubles from one second up to a minute: 1, 2, 4, ... 32, 60, 60, ...
    """
    if crash_streak <= 0:
        return 0.0
    return min(FIRST_DELAY_SECONDS * 2.0 ** (crash_streak - 1), MAX_DELAY_SECONDS)


def next_crash_streak(crash_streak: int, ran_for_seconds: float) -> int:
    """The crash streak after a container exits having run `ran_for_seconds`."""
    if ran_for_seconds >= STABLE_RUN_SECONDS:
        return 1
    return crash_streak + 1
