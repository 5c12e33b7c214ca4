"""Where the Kubernetes API listens: the node's certificate when it has one, else loopback only.

Tokens cross this API as they cross the ozy API, so it is never plain HTTP
off the machine: without TLS it binds 127.0.0.1, whatever `--api-host`
says (and says so once). It runs in the same uvicorn server as the ozy API
(api/server.py: the header deadline, the abort hook of watch streams).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import FastAPI

from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.server import ApiServer, api_server
from ozymandias.tls.settings import ServerTls

log = logging.getLogger(__name__)

DEFAULT_KUBE_PORT = 6443
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class KubeListen:
    host: str
    port: int
    tls: ServerTls | None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"


def kube_listen(api_host: str, port: int, tls: ServerTls | None) -> KubeListen | None:
    """Where the Kubernetes API listens (None: `--kube-port 0`, not at all)."""
    if port == 0:
        return None
    if tls is None:
        return KubeListen(LOOPBACK, port, None)
    return KubeListen(api_host, port, tls)


def loopback_note(api_host: str, listen: KubeListen) -> str | None:
    """What a node says once when its API listens off loopback but the Kubernetes API may not."""
    if listen.tls is None and api_host not in (LOOPBACK, "localhost", "::1"):
        return (
            f"the Kubernetes API serves plain HTTP on {listen.host}:{listen.port} only, "
            "not on --api-host: give the node a certificate (--tls-cert) to reach it from "
            "other machines"
        )
    return None


def kube_server(app: FastAPI, listen: KubeListen, limits: ApiLimits) -> ApiServer:
    return api_server(app, listen.host, listen.port, limits, listen.tls)
