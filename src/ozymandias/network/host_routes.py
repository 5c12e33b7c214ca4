"""Routes in the host's root network namespace: the only module that runs `ip route`.

Before any private range is used for pods, it is blackholed: a packet to a pod
address that is not up yet (or no longer) is then dropped on this host rather
than sent out through the default gateway. More specific routes (a node's own
pod bridge, routes to other nodes' pod subnets) still win over the blackhole.
"""

from __future__ import annotations

import asyncio
import json
import logging

log = logging.getLogger(__name__)


class RouteError(RuntimeError):
    pass


async def _ip(*arguments: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "ip", *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RouteError(f"ip {' '.join(arguments)}: {err.decode().strip()}")
    return out.decode()


async def has_blackhole(cidr: str) -> bool:
    routes = json.loads(await _ip("-j", "route", "show", "type", "blackhole", cidr) or "[]")
    return bool(routes)


async def ensure_blackhole(cidr: str) -> bool:
    """Blackhole `cidr` unless it already is; returns whether this call added it."""
    if await has_blackhole(cidr):
        return False
    await _ip("route", "add", "blackhole", cidr)
    log.info("blackholed %s in the root namespace", cidr)
    return True


async def remove_blackhole(cidr: str) -> None:
    if await has_blackhole(cidr):
        await _ip("route", "del", "blackhole", cidr)
        log.info("removed the blackhole for %s", cidr)
