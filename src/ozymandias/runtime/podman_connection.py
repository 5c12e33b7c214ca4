"""The connection to podman: its service child, the unix-socket HTTP client, error translation.

`PodmanConnection` owns the `podman system service` child (see
podman_service.py) and the httpx client that talks to it, and turns what goes
wrong into the runtime's errors: an error status becomes `PodmanError` (or the
caller's 404 type), a transport failure `RuntimeUnavailable` with the
service's state. Every other podman module sends its requests through it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx

from ozymandias.runtime.models import PodmanError, RuntimeUnavailable
from ozymandias.runtime.podman_json import Json
from ozymandias.runtime.podman_service import PodmanService

log = logging.getLogger(__name__)

LIBPOD = "/v4.0.0/libpod"
# Only the docker-compatible container list reports IP addresses in bulk.
COMPAT = "/v1.41"

REQUEST_TIMEOUT = 60.0
_READY_TIMEOUT = 15.0


class PodmanConnection:
    """Our podman service and the client of its REST API, started and closed together."""

    def __init__(self, socket_path: Path, podman_binary: str, env: dict[str, str] | None) -> None:
        self._service = PodmanService(socket_path, podman_binary, env)
        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket_path)),
            base_url="http://podman",  # the host is ignored over a unix socket
            timeout=REQUEST_TIMEOUT,
        )
        self._service_lock = asyncio.Lock()
        self.closed = False

    async def start(self) -> None:
        """Starts our podman service and waits until it answers."""
        async with self._service_lock:
            await self._start_service()

    async def close(self) -> None:
        """Stops the service; containers keep running under their conmon."""
        self.closed = True
        await self.client.aclose()
        async with self._service_lock:
            await self._service.stop()

    async def revive_service(self) -> None:
        """Restarts the service if it died, so that the event stream can come back."""
        async with self._service_lock:
            if self.closed or self._service.running:
                return
            log.warning("%s; restarting it", self._service.describe_failure())
            try:
                await self._start_service()
            except RuntimeUnavailable as error:
                log.warning("podman service restart failed: %s", error)

    def unavailable(self, error: Exception) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"{error!r}; {self._service.describe_failure()}")

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Json | None = None,
        time_limit: float = REQUEST_TIMEOUT,
        allow: tuple[int, ...] = (),
        not_found: type[PodmanError] = PodmanError,
    ) -> httpx.Response:
        """One request; error statuses raise PodmanError unless in `allow`."""
        try:
            response = await self.client.request(
                method, path, params=params, json=json, timeout=time_limit
            )
        except httpx.TransportError as error:
            raise self.unavailable(error) from error
        if response.status_code not in allow:
            await raise_for_status(response, not_found=not_found)
        return response

    async def _start_service(self) -> None:
        await self._service.spawn()
        try:
            await self._wait_until_ready()
        except BaseException:
            await self._service.stop()
            raise

    async def _wait_until_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _READY_TIMEOUT
        while True:
            if not self._service.running:
                raise RuntimeUnavailable(self._service.describe_failure())
            try:
                if (await self.client.get("/_ping", timeout=1.0)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise RuntimeUnavailable(
                    f"no answer within {_READY_TIMEOUT:.0f} s: {self._service.describe_failure()}"
                )
            await asyncio.sleep(0.05)


async def raise_for_status(
    response: httpx.Response, *, not_found: type[PodmanError] = PodmanError
) -> None:
    """Raise podman's error (its message and cause) for an error status; `not_found` on 404."""
    if response.status_code < 400:
        return
    await response.aread()
    try:
        body = response.json()
        message, cause = str(body["message"]), str(body.get("cause", ""))
    except (ValueError, KeyError, TypeError):
        message, cause = response.text.strip(), ""
    error_type = not_found if response.status_code == 404 else PodmanError
    raise error_type(response.status_code, message, cause)
