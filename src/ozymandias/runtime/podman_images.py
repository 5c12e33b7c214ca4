"""Images: whether one is present, and pulling one from its registry with a login.

Podman's REST API takes a pull's credentials in the `X-Registry-Auth` header
(base64 of `{"username", "password"}`), so no auth file is written. A
registry's CA is put where podman's image library looks for it first: the
`certs.d/<registry>/ca.crt` under `$HOME/.config/containers` of the podman
service, whose HOME is a directory of the node's own (see PodmanRuntime), so
the node never writes into the host's /etc/containers.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

from ozymandias.runtime.models import ImagePullFailed, RegistryAccess
from ozymandias.runtime.podman_connection import LIBPOD, PodmanConnection
from ozymandias.runtime.pull_reasons import pull_reason
from ozymandias.runtime.single_flight import SingleFlight
from ozymandias.spec.images import LOCAL, parse_image

log = logging.getLogger(__name__)

PULL_TIMEOUT = 300.0
"""The most a pull may take: a slow registry fails the start rather than hold it for ever."""

CERTS_DIR = Path(".config/containers/certs.d")


class ImagePuller:
    def __init__(self, podman: PodmanConnection, home: Path | None) -> None:
        """`home` is the podman service's HOME (None: registries' CAs cannot be given)."""
        self._podman = podman
        self._home = home
        self._pulls: SingleFlight[str, None] = SingleFlight()
        self._listeners: dict[str, list[Callable[[str], None]]] = {}
        self.pulls_started = 0
        """Pulls sent to podman since the start (a concurrent pull joins one: not counted)."""

    async def exists(self, image: str) -> bool:
        # Quoted, so a '?' or '#' in a name cannot turn into a query or a fragment.
        path = f"{LIBPOD}/images/{quote(image, safe='/:@')}/exists"
        response = await self._podman.call("GET", path, allow=(204, 404))
        return response.status_code == 204

    async def pull(
        self,
        image: str,
        access: RegistryAccess,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Pull `image`, joining a pull of it already in flight; `ImagePullFailed` on failure.

        `progress` hears podman's progress lines of the pull this call started or joined
        (a joining caller hears those from then on).
        """
        listeners = self._listeners.setdefault(image, [])
        if progress is not None:
            listeners.append(progress)
        try:
            await self._pulls.run(image, lambda: self._pull_once(image, access))
        finally:
            if progress is not None:
                listeners.remove(progress)
            if not listeners and not self._pulls.in_flight(image):
                self._listeners.pop(image, None)

    async def _pull_once(self, image: str, access: RegistryAccess) -> None:
        reference = parse_image(image)
        if reference.registry == LOCAL:
            raise ImagePullFailed(
                f"image pull: {image} is a local image (localhost/ images are never pulled)"
            )
        self._trust(reference.registry, access.ca_pem)
        self.pulls_started += 1
        headers: dict[str, str] = {}
        if access.username is not None:
            auth = {"username": access.username, "password": access.password or ""}
            headers["X-Registry-Auth"] = base64.urlsafe_b64encode(
                json.dumps(auth).encode()
            ).decode()
        error: str | None = None
        try:
            async with asyncio.timeout(PULL_TIMEOUT):
                error = await self._stream_pull(image, headers)
        except TimeoutError:
            error = f"no result within {PULL_TIMEOUT:.0f} s"
        except httpx.TransportError as transport:
            raise self._podman.unavailable(transport) from transport
        if error is not None:
            log.info("pulling %s failed: %s", image, error)
            raise ImagePullFailed(pull_reason(image, error))

    async def _stream_pull(self, image: str, headers: dict[str, str]) -> str | None:
        """Podman's pull stream, told to the listeners; the error it ends with, if any.

        A failed pull still answers 200: the error is in the stream's last object.
        """
        error: str | None = None
        async with self._podman.client.stream(
            "POST",
            f"{LIBPOD}/images/pull",
            params={"reference": image, "policy": "always"},
            headers=headers,
            timeout=httpx.Timeout(PULL_TIMEOUT),
        ) as response:
            if response.status_code >= 400:
                body = (await response.aread()).decode(errors="replace")
                return _message(body)
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                report = json.loads(line)
                if report.get("error"):
                    error = str(report["error"])
                elif report.get("stream"):
                    for listener in list(self._listeners.get(image, [])):
                        listener(str(report["stream"]).strip())
        return error

    def _trust(self, registry: str, ca_pem: str | None) -> None:
        """Make the podman service trust `ca_pem` for `registry` (or only the system's CAs)."""
        if self._home is None:
            if ca_pem is not None:
                log.warning("no podman home: the CA given for %s is not used", registry)
            return
        directory = self._home / CERTS_DIR / registry
        if ca_pem is None:
            shutil.rmtree(directory, ignore_errors=True)
            return
        directory.mkdir(parents=True, exist_ok=True)
        ca_file = directory / "ca.crt"
        if not ca_file.exists() or ca_file.read_text() != ca_pem:
            ca_file.write_text(ca_pem)


def _message(body: str) -> str:
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body.strip()
