"""`healthcheck` as an exec check (compose's defaults: 30s interval and timeout, 3 retries)."""

from __future__ import annotations

from typing import Any

from ozymandias.compose.durations import seconds
from ozymandias.compose.findings import ComposeError

# Compose's own defaults, so a check behaves as it did under docker compose.
_DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}


def convert_healthcheck(service: str, check: dict[str, Any] | None) -> dict[str, Any] | None:
    if not check or check.get("disable"):
        return None
    where = f"service {service}, key healthcheck"
    test = check.get("test")
    if isinstance(test, str):
        command = ["/bin/sh", "-c", test]
    elif isinstance(test, list) and test and test[0] == "NONE":
        return None
    elif isinstance(test, list) and len(test) >= 2 and test[0] == "CMD":
        command = [str(part) for part in test[1:]]
    elif isinstance(test, list) and len(test) == 2 and test[0] == "CMD-SHELL":
        command = ["/bin/sh", "-c", str(test[1])]
    elif test is None:
        raise ComposeError(f"{where}.test: a check needs a test (an image's own is not read)")
    else:
        raise ComposeError(
            f"{where}.test: {test!r} is not [CMD, ...], [CMD-SHELL, command], [NONE] or a string"
        )
    interval = seconds(check.get("interval", _DEFAULTS["interval"]), f"{where}.interval")
    timeout = seconds(check.get("timeout", _DEFAULTS["timeout"]), f"{where}.timeout")
    return {
        "type": "exec",
        "command": command,
        "interval": interval,
        # Docker runs a check for at most its timeout, however long the interval; here a
        # timeout past the interval is refused, so it is cut to the interval.
        "timeout": min(timeout, interval),
        "unhealthy_threshold": int(check.get("retries", _DEFAULTS["retries"])),
        "start_period": seconds(
            check.get("start_period", _DEFAULTS["start_period"]), f"{where}.start_period"
        ),
    }
