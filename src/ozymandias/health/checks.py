"""Running one healthcheck: http and tcp against the pod's IP, exec inside the container.

The node daemon runs checks itself rather than through podman's healthcheck
timers, which need systemd. Each runner returns a `CheckResult` and never
raises: a refused connection, a timeout or a missing container is a failed
check with its reason as the output.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ozymandias.spec.models import HealthCheck

# Enough of a response or command output to explain a failure in an event.
OUTPUT_LIMIT = 512

Exec = Callable[[str, list[str], float], Awaitable[tuple[int, str]]]
"""Runs a command in a container: (container id, command, timeout) -> (exit code, output)."""


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    output: str


async def run_check(check: HealthCheck, pod_ip: str, container_id: str, exec_: Exec) -> CheckResult:
    """Run `check` once, within its timeout."""
    try:
        if check.type == "exec":
            assert check.command is not None  # the spec requires one for exec
            code, output = await exec_(container_id, list(check.command), check.timeout)
            return CheckResult(code == 0, f"exit code {code}: {output[-OUTPUT_LIMIT:]}")
        assert check.port is not None  # the spec requires one for http and tcp
        async with asyncio.timeout(check.timeout):
            if check.type == "http":
                return await _http_get(pod_ip, check.port, check.path)
            return await _tcp_connect(pod_ip, check.port)
    except TimeoutError:
        return CheckResult(False, f"timed out after {check.timeout:g}s")
    except Exception as error:
        return CheckResult(False, f"{type(error).__name__}: {error}"[:OUTPUT_LIMIT])


async def _http_get(host: str, port: int, path: str) -> CheckResult:
    # HTTP/1.0 with Connection: close keeps the exchange to one request and a
    # body that ends with the connection, so no client library is needed.
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n"
            "User-Agent: ozymandias-healthcheck\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        response = await reader.read(OUTPUT_LIMIT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    status_line, _, rest = response.decode(errors="replace").partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return CheckResult(False, f"not an HTTP response: {status_line[:80]!r}")
    status = int(parts[1])
    body = rest.partition("\r\n\r\n")[2]
    return CheckResult(200 <= status < 400, f"HTTP {status}: {body.strip()}")


async def _tcp_connect(host: str, port: int) -> CheckResult:
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return CheckResult(True, f"connected to {host}:{port}")
