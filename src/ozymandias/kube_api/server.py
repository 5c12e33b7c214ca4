"""Where the Kubernetes API listens, and with which certificate: it is always HTTPS.

kubectl sends a token only over TLS (client-go reads a kubeconfig's
credentials only for an https server), so there is no plain HTTP here.
With the node's certificate (`--tls-cert`), it listens on `--api-host`,
as the ozy API does. Without one, it listens on 127.0.0.1 only, whatever
`--api-host` says (and says so), with a self-signed certificate for
localhost the node makes once in its data dir; `ozy kubeconfig` trusts the
certificate that port shows (over loopback: on this machine only). It runs
in a uvicorn server as the ozy API does (api/server.py: the header
deadline, the abort hook of watch streams).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from ozymandias.api.request_limits import ApiLimits
from ozymandias.api.server import ApiServer, api_server
from ozymandias.node_config import NodeConfig, is_loopback
from ozymandias.tls.certificates import write_loopback_certificate
from ozymandias.tls.settings import ServerTls

LOOPBACK = "127.0.0.1"
CERTIFICATE_DIR = "kube-api-tls"


@dataclass(frozen=True)
class KubeListen:
    host: str
    port: int
    tls: ServerTls
    own_certificate: bool
    """True: the node's self-signed loopback certificate, not --tls-cert."""

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


def kube_listen(config: NodeConfig) -> KubeListen | None:
    """Where the node's Kubernetes API listens (None: `--kube-port 0`, not at all); makes the
    loopback certificate when the node has none of its own."""
    if config.kube_port == 0:
        return None
    if config.api_tls is not None:
        return KubeListen(config.api_host, config.kube_port, config.api_tls, False)
    cert, key = write_loopback_certificate(config.node_dir / CERTIFICATE_DIR, "kube-api")
    return KubeListen(LOOPBACK, config.kube_port, ServerTls(cert, key), True)


def loopback_note(api_host: str, listen: KubeListen) -> str | None:
    """What a node says when its API listens off loopback but the Kubernetes API may not."""
    if listen.own_certificate and not is_loopback(api_host):
        return (
            f"the Kubernetes API listens on {listen.host}:{listen.port} only, not on "
            f"--api-host {api_host}: give the node a certificate (--tls-cert) to reach it "
            "from other machines"
        )
    return None


def kube_server(app: FastAPI, listen: KubeListen, limits: ApiLimits) -> ApiServer:
    return api_server(app, listen.host, listen.port, limits, listen.tls)
