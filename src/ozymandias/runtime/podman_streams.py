"""podman's long-lived streams: a container's logs and the stream of container exits.

Both are async generators over one streamed response. The exit stream also
reconnects, with a backoff, restarting the podman service if it died, and
announces each (re)connection with `StreamConnected`; the parsing of its
lines is `podman_json.container_exit`. `PodmanRuntime.logs` and
`PodmanRuntime.container_exits` are the entry points. `container_runs` reads
the same event log, once, for the runs of one container (what `--previous` shows).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from ozymandias.runtime.framing import StreamDemuxer
from ozymandias.runtime.models import (
    ContainerExit,
    ContainerNotFound,
    ContainerRun,
    LogEntry,
    PodmanError,
    StreamConnected,
)
from ozymandias.runtime.oom_kills import OomKills
from ozymandias.runtime.podman_connection import (
    LIBPOD,
    REQUEST_TIMEOUT,
    PodmanConnection,
    raise_for_status,
)
from ozymandias.runtime.podman_json import container_exit, label_filters, log_entry
from ozymandias.runtime.podman_json import container_runs as parse_container_runs

log = logging.getLogger(__name__)

_RECONNECT_MIN_DELAY = 0.1
_RECONNECT_MAX_DELAY = 5.0


async def container_exits(
    podman: PodmanConnection, label_filter: dict[str, str], oom_kills: OomKills
) -> AsyncGenerator[ContainerExit | StreamConnected, None]:
    """`PodmanRuntime.container_exits`: exits of our labelled containers, until closed.

    Podman's event does not say whether the container was OOM-killed: `oom_kills` does.
    """
    filters: dict[str, list[str]] = {"type": ["container"], "event": ["died"]}
    filters.update(label_filters(label_filter))
    delay = _RECONNECT_MIN_DELAY
    loop = asyncio.get_running_loop()
    while not podman.closed:
        connected_at: float | None = None
        try:
            async with podman.client.stream(
                "GET",
                f"{LIBPOD}/events",
                params={
                    "stream": "true",
                    # Podman 4.3 may answer before it has opened its event log; with a
                    # `since` it reads the log from that time on, so no exit after the
                    # marker is lost.
                    "since": datetime.now(UTC).isoformat(),
                    "filters": json.dumps(filters),
                },
                timeout=httpx.Timeout(REQUEST_TIMEOUT, read=None),
            ) as response:
                await raise_for_status(response)
                connected_at = loop.time()
                yield StreamConnected()
                async for line in response.aiter_lines():
                    exit_ = container_exit(line, label_filter) if line else None
                    if exit_ is not None:
                        yield replace(exit_, oom_killed=oom_kills.killed(exit_.container_id))
            problem = "ended"
        except (httpx.TransportError, PodmanError) as error:
            if podman.closed:
                return
            problem = f"failed ({error!r})"
        if connected_at is not None and loop.time() - connected_at > _RECONNECT_MAX_DELAY:
            delay = _RECONNECT_MIN_DELAY  # it worked for a while: not a failure loop
        # podman (4.1 and later) ends a stream when it rotates its events log, at 1 MB by
        # default and shared by every podman on the host: routine, so said at DEBUG once
        # the stream had been connected. A failure, or an end before connecting, warns.
        routine = problem == "ended" and connected_at is not None
        log.log(
            logging.DEBUG if routine else logging.WARNING,
            "podman event stream %s; reconnecting in %.1f s",
            problem,
            delay,
        )
        await asyncio.sleep(delay)
        delay = min(2 * delay, _RECONNECT_MAX_DELAY)
        await podman.revive_service()


async def logs(
    podman: PodmanConnection,
    container_id: str,
    *,
    follow: bool,
    tail: int | None,
    since: datetime | None,
    until: datetime | None,
) -> AsyncGenerator[LogEntry, None]:
    """`PodmanRuntime.logs`: the container's output, stdout and stderr merged."""
    params = {
        "stdout": "true",
        "stderr": "true",
        "follow": "true" if follow else "false",
        "timestamps": "true",
    }
    if tail is not None:
        params["tail"] = str(tail)
    # Podman compares these with the log's nanosecond times; an entry at `since` itself is left out.
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    demuxer = StreamDemuxer()
    last = datetime.fromtimestamp(0, UTC)
    try:
        async with podman.client.stream(
            "GET",
            f"{LIBPOD}/containers/{container_id}/logs",
            params=params,
            timeout=httpx.Timeout(REQUEST_TIMEOUT, read=None if follow else REQUEST_TIMEOUT),
        ) as response:
            await raise_for_status(response, not_found=ContainerNotFound)
            async for chunk in response.aiter_raw():
                for payload in demuxer.feed(chunk):
                    entry = log_entry(payload, last)
                    last = entry.time
                    yield entry
    except httpx.TransportError as error:
        raise podman.unavailable(error) from error
    rest = demuxer.flush()
    if rest:
        yield log_entry(rest, last)


async def container_runs(podman: PodmanConnection, container_id: str) -> list[ContainerRun]:
    """`PodmanRuntime.container_runs`: the container's runs, oldest first.

    From podman's event log, which keeps them whoever started the container and
    across restarts of this daemon; read from the container's creation on.
    """
    inspected = await podman.call(
        "GET", f"{LIBPOD}/containers/{container_id}/json", not_found=ContainerNotFound
    )
    filters = {"type": ["container"], "event": ["start", "died"], "container": [container_id]}
    params = {
        "stream": "false",
        "since": str(inspected.json()["Created"]),
        "filters": json.dumps(filters),
    }
    events = await podman.call("GET", f"{LIBPOD}/events", params=params)
    return parse_container_runs(events.text.splitlines())
